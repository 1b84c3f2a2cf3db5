// What the Master EA publishes: the difference between the terminal's open
// positions and its book (what the server has been told), one change at a
// time. OnTradeTransaction only says that something changed; the
// comparison finds what, so a change made while the EA was not running
// (a stop hit over a weekend, a trade on a restarted terminal) is
// published as surely as one seen live.
//
// v2, hedging: one book entry ("slice") per terminal position, id = its
// ticket. A position that appears is OPEN, one that disappears CLOSE, a
// smaller volume PARTIAL_CLOSE, other stops MODIFY.
// v2, netting: a position grows by deals; each increase is a slice of its
// own (id SP_SLICE_ID_BASE + the sequence that opened it), so receivers
// size it by the same rules; decreases close the newest slices first; a
// reversal closes every slice and opens the new side.
// v1: one net position per symbol ("v1:<SYMBOL>"); every change of the net
// volume is a market order BUY or SELL of the difference (the server's v1
// book does the same arithmetic).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_MASTER_DIFF_MQH
#define SIGPLANE_MASTER_DIFF_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Frames.mqh>
#include <Sigplane/CopyRules.mqh>
#include <Sigplane/MasterStore.mqh>
#include <Sigplane/TerminalPositions.mqh>

/** The last deal price seen per position (OnTradeTransaction DEAL_ADD): the price of a close or an increase. */
class SpDealPrices
  {
private:
   ulong             m_ticket[64];
   double            m_price[64];
   int               m_next;

public:
                     SpDealPrices(void)
     {
      m_next = 0;
      for(int i = 0; i < 64; i++)
        {
         m_ticket[i] = 0;
         m_price[i] = 0;
        }
     }
   void              Remember(ulong position, double price)
     {
      if(position == 0 || !(price > 0))
         return;
      for(int i = 0; i < 64; i++)
         if(m_ticket[i] == position)
           {
            m_price[i] = price;
            return;
           }
      m_ticket[m_next] = position;
      m_price[m_next] = price;
      m_next = (m_next + 1) % 64;
     }
   double            Get(ulong position) const
     {
      for(int i = 0; i < 64; i++)
         if(m_ticket[i] == position)
            return m_price[i];
      return 0;
     }
  };

/** One change to publish: the signal's fields and what it does to the book. */
class SpBookChange
  {
public:
   int               action;
   int               orderType;
   double            volume;
   double            price;
   double            stopLoss;
   double            takeProfit;
   /** The slice after the change (PUT), or the slice removed (DELETE). */
   int               op;
   SpSlice           slice;
                     SpBookChange(void) { Reset(); }
   void              Reset(void) { action = 0; orderType = 0; volume = 0; price = 0; stopLoss = 0; takeProfit = 0; op = 0; slice.Reset(); }
  };

/** The server's field rule for a signal's symbol: [A-Za-z0-9]{1,20}. */
bool SpSymbolPublishable(const string &symbol)
  {
   return SpMatchesCharset(symbol, "", 1, SP_SIGNAL_SYMBOL_CHARS_MAX);
  }

class SpMasterDiff
  {
private:
   string            m_warned;

   /** A market price to close `orderType` on `symbol` at: the deal's, else the quote, else `fallback`. */
   double            ClosePrice(const SpDealPrices &deals, ulong ticket, const string &symbol, int orderType, double fallback)
     {
      double p = deals.Get(ticket);
      if(p > 0)
         return p;
      double bid = 0, ask = 0;
      if(PlatformSymbolQuote(symbol, bid, ask))
        {
         p = orderType == 0 ? bid : ask;
         if(p > 0)
            return p;
        }
      return fallback;
     }

   void              WarnOnce(const string &symbol)
     {
      if(StringFind(m_warned, "|" + symbol + "|") >= 0)
         return;
      m_warned += "|" + symbol + "|";
      PlatformLog(SP_LOG_WARN, "SYMBOL_NOT_PUBLISHABLE", "positions on " + symbol + " are not published: a signal's symbol is 1..20 letters and digits");
     }

   void              Close(const SpSlice &s, double price, SpBookChange &c)
     {
      c.Reset();
      c.action = SP_ACTION_CLOSE;
      c.orderType = s.orderType;
      c.volume = s.volume;
      c.price = price;
      c.op = SP_BOOK_DELETE;
      c.slice.CopyFrom(s);
     }

   bool              NextV2(const SpMasterStore &store, const SpTerminalPositions &terminal, const SpDealPrices &deals, ulong sequence, SpBookChange &c)
     {
      // Published positions the terminal no longer holds: closed.
      for(int i = 0; i < store.sliceCount; i++)
        {
         if(terminal.FindTicket(store.slices[i].ticket) >= 0)
            continue;
         Close(store.slices[i], ClosePrice(deals, store.slices[i].ticket, store.slices[i].symbol, store.slices[i].orderType, store.slices[i].openPrice), c);
         return true;
        }
      for(int p = 0; p < terminal.count; p++)
        {
         if(!SpSymbolPublishable(terminal.items[p].symbol))
           {
            WarnOnce(terminal.items[p].symbol);
            continue;
           }
         ulong ticket = terminal.items[p].ticket;
         int count = 0;
         int newest = -1;
         double total = 0;
         int differentSide = -1;
         int otherStops = -1;
         for(int i = 0; i < store.sliceCount; i++)
           {
            if(store.slices[i].ticket != ticket)
               continue;
            count++;
            total = total + store.slices[i].volume;
            if(newest < 0 || store.slices[i].openedSequence > store.slices[newest].openedSequence)
               newest = i;
            if(store.slices[i].orderType != terminal.items[p].type && differentSide < 0)
               differentSide = i;
            if((store.slices[i].stopLoss != terminal.items[p].stopLoss || store.slices[i].takeProfit != terminal.items[p].takeProfit) && otherStops < 0)
               otherStops = i;
           }
         total = SpRoundVolume(total);
         double market = terminal.items[p].priceCurrent > 0 ? terminal.items[p].priceCurrent : terminal.items[p].priceOpen;
         if(differentSide >= 0)
           {
            // A reversal: the old side closes first (one slice per change), then the new side opens.
            Close(store.slices[differentSide], ClosePrice(deals, ticket, terminal.items[p].symbol, store.slices[differentSide].orderType, market), c);
            return true;
           }
         if(count == 0 || terminal.items[p].volume > total + SP_VOLUME_EPSILON)
           {
            c.Reset();
            c.action = SP_ACTION_OPEN;
            c.orderType = terminal.items[p].type;
            c.volume = count == 0 ? terminal.items[p].volume : SpRoundVolume(terminal.items[p].volume - total);
            double dealPrice = deals.Get(ticket);
            c.price = count == 0 ? terminal.items[p].priceOpen : (dealPrice > 0 ? dealPrice : market);
            c.stopLoss = terminal.items[p].stopLoss;
            c.takeProfit = terminal.items[p].takeProfit;
            c.op = SP_BOOK_PUT;
            c.slice.id = count == 0 && store.FindSlice(SpUlongToDecimal(ticket)) < 0 ? SpUlongToDecimal(ticket) : SpUlongToDecimal((ulong)SP_SLICE_ID_BASE + sequence);
            c.slice.ticket = ticket;
            c.slice.symbol = terminal.items[p].symbol;
            c.slice.orderType = c.orderType;
            c.slice.volume = c.volume;
            c.slice.openPrice = c.price;
            c.slice.stopLoss = c.stopLoss;
            c.slice.takeProfit = c.takeProfit;
            c.slice.magic = terminal.items[p].magic;
            c.slice.openedSequence = sequence;
            return true;
           }
         if(terminal.items[p].volume < total - SP_VOLUME_EPSILON)
           {
            double excess = SpRoundVolume(total - terminal.items[p].volume);
            double price = ClosePrice(deals, ticket, terminal.items[p].symbol, terminal.items[p].type, market);
            if(store.slices[newest].volume <= excess + SP_VOLUME_EPSILON)
              {
               Close(store.slices[newest], price, c);
               return true;
              }
            c.Reset();
            c.action = SP_ACTION_PARTIAL_CLOSE;
            c.orderType = store.slices[newest].orderType;
            c.volume = excess;
            c.price = price;
            c.stopLoss = store.slices[newest].stopLoss;
            c.takeProfit = store.slices[newest].takeProfit;
            c.op = SP_BOOK_PUT;
            c.slice.CopyFrom(store.slices[newest]);
            c.slice.volume = SpRoundVolume(store.slices[newest].volume - excess);
            return true;
           }
         if(otherStops >= 0)
           {
            c.Reset();
            c.action = SP_ACTION_MODIFY;
            c.orderType = store.slices[otherStops].orderType;
            c.volume = store.slices[otherStops].volume;
            c.price = market;
            c.stopLoss = terminal.items[p].stopLoss;
            c.takeProfit = terminal.items[p].takeProfit;
            c.op = SP_BOOK_PUT;
            c.slice.CopyFrom(store.slices[otherStops]);
            c.slice.stopLoss = c.stopLoss;
            c.slice.takeProfit = c.takeProfit;
            return true;
           }
        }
      return false;
     }

   /** The terminal's net volume on `symbol` (BUY positive). */
   double            NetVolume(const SpTerminalPositions &terminal, const string &symbol)
     {
      double net = 0;
      for(int i = 0; i < terminal.count; i++)
         if(terminal.items[i].symbol == symbol)
            net = net + (terminal.items[i].type == 0 ? terminal.items[i].volume : -terminal.items[i].volume);
      return SpRoundVolume(net);
     }

   bool              NettingChange(const SpMasterStore &store, const string &symbol, double net, const SpDealPrices &deals, const SpTerminalPositions &terminal, ulong sequence, SpBookChange &c)
     {
      string id = "v1:" + symbol;
      int at = store.FindSlice(id);
      double booked = at < 0 ? 0 : (store.slices[at].orderType == 0 ? store.slices[at].volume : -store.slices[at].volume);
      double delta = SpRoundVolume(net - booked);
      if(MathAbs(delta) <= SP_VOLUME_EPSILON)
         return false;
      // The server refuses more than 100 lots in one signal: a larger change goes in several.
      double step = MathMin(MathAbs(delta), 100.0);
      double after = SpRoundVolume(booked + (delta > 0 ? step : -step));
      int type = delta > 0 ? 0 : 1;
      double price = 0;
      for(int i = 0; i < terminal.count && price <= 0; i++)
         if(terminal.items[i].symbol == symbol)
            price = deals.Get(terminal.items[i].ticket);
      double bid = 0, ask = 0;
      if(price <= 0 && PlatformSymbolQuote(symbol, bid, ask))
         price = type == 0 ? ask : bid;
      if(price <= 0 && at >= 0)
         price = store.slices[at].openPrice;
      if(price <= 0)
         return false;
      c.Reset();
      c.action = SP_ACTION_NETTING;
      c.orderType = type;
      c.volume = step;
      c.price = price;
      c.slice.id = id;
      c.slice.symbol = symbol;
      if(MathAbs(after) <= SP_VOLUME_EPSILON)
        {
         c.op = SP_BOOK_DELETE;
         if(at >= 0)
            c.slice.CopyFrom(store.slices[at]);
         return true;
        }
      c.op = SP_BOOK_PUT;
      c.slice.orderType = after > 0 ? 0 : 1;
      c.slice.volume = MathAbs(after);
      c.slice.openedSequence = at < 0 ? sequence : store.slices[at].openedSequence;
      bool flipped = at < 0 || (booked > 0) != (after > 0);
      if(flipped)
        {
         c.slice.openPrice = price;
         c.slice.openedSequence = sequence;
        }
      else
         if(MathAbs(after) > MathAbs(booked))
            c.slice.openPrice = (store.slices[at].openPrice * MathAbs(booked) + price * step) / MathAbs(after);
         else
            c.slice.openPrice = store.slices[at].openPrice;
      return true;
     }

   bool              NextV1(const SpMasterStore &store, const SpTerminalPositions &terminal, const SpDealPrices &deals, ulong sequence, SpBookChange &c)
     {
      for(int i = 0; i < terminal.count; i++)
        {
         string symbol = terminal.items[i].symbol;
         if(!SpSymbolPublishable(symbol))
           {
            WarnOnce(symbol);
            continue;
           }
         if(NettingChange(store, symbol, NetVolume(terminal, symbol), deals, terminal, sequence, c))
            return true;
        }
      for(int i = 0; i < store.sliceCount; i++)
         if(NettingChange(store, store.slices[i].symbol, NetVolume(terminal, store.slices[i].symbol), deals, terminal, sequence, c))
            return true;
      return false;
     }

public:
                     SpMasterDiff(void) { m_warned = ""; }

   /** The next change to publish with `sequence`, or false when the book matches the terminal. */
   bool              Next(int signingVersion, const SpMasterStore &store, const SpTerminalPositions &terminal, const SpDealPrices &deals, ulong sequence, SpBookChange &c)
     {
      if(signingVersion == 1)
         return NextV1(store, terminal, deals, sequence, c);
      return NextV2(store, terminal, deals, sequence, c);
     }
  };

#endif
