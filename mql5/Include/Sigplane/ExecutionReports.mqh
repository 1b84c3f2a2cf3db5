// Execution reports (receiver -> server, docs/protocol.md): the key that
// makes a resent report the same row, the server's own checks (run before
// sending, so a report the server would refuse for good never takes the
// valid reports of its sequence with it: proto/execution-report.ts), and
// the bounded list of reports not acked yet (oldest dropped past
// SP_REPORTS_UNACKED_MAX, as client/receiver-client.ts).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_EXECUTION_REPORTS_MQH
#define SIGPLANE_EXECUTION_REPORTS_MQH

#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Frames.mqh>
#include <Sigplane/CopySettings.mqh>

/** (sequence, master position, kind): what makes two reports the same row. */
string SpReportKey(ulong sequence, const string &masterPositionId, int kind)
  {
   return SpUlongToDecimal(sequence) + "|" + masterPositionId + "|" + SpKindName(kind);
  }

bool SpCurrencyValid(const string &c)
  {
   int n = StringLen(c);
   if(n < 3 || n > 8)
      return false;
   for(int i = 0; i < n; i++)
     {
      ushort ch = StringGetCharacter(c, i);
      if(ch < 'A' || ch > 'Z')
         return false;
     }
   return true;
  }

/** "" when the server would take `r`, else which field it would refuse (REPORT_INVALID). */
string SpCheckExecutionReport(const SpExecutionReport &r, long nowMs)
  {
   if(r.sequence < 1 || r.sequence > (ulong)SP_SEQUENCE_MAX)
      return "sequence_number";
   if(!SpMatchesCharset(r.masterPositionId, ":._-", 1, SP_REPORT_ID_CHARS_MAX))
      return "master_position_id";
   if(r.kind < SP_KIND_OPEN || r.kind > SP_KIND_SKIP)
      return "kind";
   if(r.outcome < SP_OUTCOME_FILLED || r.outcome > SP_OUTCOME_REJECTED)
      return "outcome";
   bool skip = r.kind == SP_KIND_SKIP;
   if(skip != (r.outcome == SP_OUTCOME_SKIPPED || r.outcome == SP_OUTCOME_REJECTED))
      return "outcome";
   if(r.ticket != "" && !SpMatchesCharset(r.ticket, ":._-", 1, SP_REPORT_ID_CHARS_MAX))
      return "ticket";
   if(skip && r.ticket != "")
      return "ticket";
   if(!SpFiniteIn(r.requestedVolume, 0, SP_REPORT_VOLUME_MAX))
      return "requested_volume";
   if(!SpFiniteIn(r.volume, 0, SP_REPORT_VOLUME_MAX))
      return "volume";
   if(r.hasPrice && !SpFiniteIn(r.price, 0, SP_REPORT_PRICE_MAX))
      return "price";
   if(r.hasSlippage && !SpFiniteIn(r.slippagePips, -SP_REPORT_SLIPPAGE_PIPS_ABS_MAX, SP_REPORT_SLIPPAGE_PIPS_ABS_MAX))
      return "slippage_pips";
   if(r.hasDelay && (r.delayMs < 0 || r.delayMs > SP_REPORT_DELAY_MS_MAX))
      return "delay_ms";
   if(r.hasProfit)
     {
      if(r.kind != SP_KIND_CLOSE && r.kind != SP_KIND_REDUCE)
         return "profit";
      if(!SpFiniteIn(r.profit, -SP_REPORT_PROFIT_ABS_MAX, SP_REPORT_PROFIT_ABS_MAX))
         return "profit";
      if(!SpCurrencyValid(r.currency))
         return "currency";
     }
   else
      if(r.currency != "" && !SpCurrencyValid(r.currency))
         return "currency";
   if(skip != (r.reason != ""))
      return "reason";
   if(r.reason != "" && !SpMatchesCharset(r.reason, "_:.-", 1, SP_REPORT_ID_CHARS_MAX))
      return "reason";
   if(skip && (r.volume != 0 || r.hasPrice || r.hasSlippage || r.hasProfit))
      return "volume";
   if(r.executedAt < nowMs - SP_REPORT_DELAY_MS_MAX)
      return "executed_at";
   return "";
  }

/** Reports by key, oldest first, at most `capacity`. */
class SpReportList
  {
public:
   SpExecutionReport items[SP_REPORTS_UNACKED_MAX];
   int               count;
   /** Dropped past the capacity (the oldest first). */
   long              dropped;

                     SpReportList(void) { count = 0; dropped = 0; }

   void              Clear(void) { count = 0; }

   int               Find(ulong sequence, const string &masterPositionId, int kind) const
     {
      for(int i = 0; i < count; i++)
         if(items[i].sequence == sequence && items[i].kind == kind && items[i].masterPositionId == masterPositionId)
            return i;
      return -1;
     }

   void              RemoveAt(int at)
     {
      for(int i = at; i < count - 1; i++)
         items[i].CopyFrom(items[i + 1]);
      count--;
     }

   /** Put `r` as the newest (replacing its key); the oldest goes past the capacity. */
   void              Put(const SpExecutionReport &r)
     {
      int at = Find(r.sequence, r.masterPositionId, r.kind);
      if(at >= 0)
         RemoveAt(at);
      if(count >= SP_REPORTS_UNACKED_MAX)
        {
         RemoveAt(0);
         dropped++;
        }
      items[count].CopyFrom(r);
      count++;
     }

   bool              Remove(ulong sequence, const string &masterPositionId, int kind)
     {
      int at = Find(sequence, masterPositionId, kind);
      if(at < 0)
         return false;
      RemoveAt(at);
      return true;
     }
  };

#endif
