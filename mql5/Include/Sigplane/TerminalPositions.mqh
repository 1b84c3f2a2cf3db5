// The terminal's open positions, read at once (PositionsTotal and
// PositionGet* on MQL5), sorted by ticket so every comparison walks them in
// the same order.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_TERMINAL_POSITIONS_MQH
#define SIGPLANE_TERMINAL_POSITIONS_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>

class SpTerminalPositions
  {
public:
   SpTerminalPosition items[SP_TERMINAL_POSITIONS_MAX];
   int               count;

                     SpTerminalPositions(void) { count = 0; }

   void              Load(void)
     {
      count = 0;
      int total = PlatformPositionsTotal();
      for(int i = 0; i < total && count < SP_TERMINAL_POSITIONS_MAX; i++)
         if(PlatformPositionAt(i, items[count]))
            count++;
      // Insertion sort by ticket (positions are few): the same order on every run.
      for(int i = 1; i < count; i++)
        {
         int j = i;
         while(j > 0 && items[j - 1].ticket > items[j].ticket)
           {
            SpTerminalPosition t;
            CopyPosition(items[j], t);
            CopyPosition(items[j - 1], items[j]);
            CopyPosition(t, items[j - 1]);
            j--;
           }
        }
     }

   void              CopyPosition(const SpTerminalPosition &from, SpTerminalPosition &to)
     {
      to.ticket = from.ticket;
      to.symbol = from.symbol;
      to.type = from.type;
      to.volume = from.volume;
      to.priceOpen = from.priceOpen;
      to.priceCurrent = from.priceCurrent;
      to.stopLoss = from.stopLoss;
      to.takeProfit = from.takeProfit;
      to.magic = from.magic;
      to.comment = from.comment;
     }

   /** The position whose comment is `comment` on `symbol`; -1 when none. */
   int               FindComment(const string &comment, const string &symbol) const
     {
      for(int i = 0; i < count; i++)
         if(items[i].comment == comment && items[i].symbol == symbol)
            return i;
      return -1;
     }

   int               FindTicket(ulong ticket) const
     {
      for(int i = 0; i < count; i++)
         if(items[i].ticket == ticket)
            return i;
      return -1;
     }
  };


#endif
