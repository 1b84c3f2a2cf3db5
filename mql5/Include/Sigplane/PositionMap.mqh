// The Receiver EA's durable memory, one SQLite file (MQL5's Database*):
// which local tickets copy which master position and at what ratio, the
// last sequence applied, and the execution reports the server has not
// acked (client/position-map.ts keeps the same in a JSON file).
//
// Everything a delivery changed is written in one transaction after the
// delivery was applied in full: "applied" and "remembered" cannot disagree
// after a crash. What the broker did before that write is found again
// through the idempotency key in each order's comment (Copier.mqh).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_POSITION_MAP_MQH
#define SIGPLANE_POSITION_MAP_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/ExecutionReports.mqh>

#define SP_COPY_COPIED 1
#define SP_COPY_SKIPPED 2
#define SP_COPY_CLOSED_LOCALLY 3

/** One master position as this receiver copies it (client/position-map.ts CopiedPosition). */
class SpCopy
  {
public:
   string            masterPositionId;
   string            masterSymbol;
   int               masterOrderType;
   double            masterOpenVolume;
   double            masterVolume;
   double            masterStopLoss;
   double            masterTakeProfit;
   int               status;
   string            skipReason;
   string            localSymbol;
   int               localOrderType;
   double            localOpenVolume;
   bool              reversed;
   ulong             tickets[SP_COPY_TICKETS_MAX];
   int               ticketCount;
   ulong             openedSequence;
   /** Changed since the last write. */
   bool              dirty;

                     SpCopy(void) { Reset(); }
   void              Reset(void)
     {
      masterPositionId = "";
      masterSymbol = "";
      masterOrderType = 0;
      masterOpenVolume = 0;
      masterVolume = 0;
      masterStopLoss = 0;
      masterTakeProfit = 0;
      status = SP_COPY_COPIED;
      skipReason = "";
      localSymbol = "";
      localOrderType = 0;
      localOpenVolume = 0;
      reversed = false;
      ticketCount = 0;
      openedSequence = 0;
      dirty = true;
     }
   void              CopyFrom(const SpCopy &o)
     {
      masterPositionId = o.masterPositionId;
      masterSymbol = o.masterSymbol;
      masterOrderType = o.masterOrderType;
      masterOpenVolume = o.masterOpenVolume;
      masterVolume = o.masterVolume;
      masterStopLoss = o.masterStopLoss;
      masterTakeProfit = o.masterTakeProfit;
      status = o.status;
      skipReason = o.skipReason;
      localSymbol = o.localSymbol;
      localOrderType = o.localOrderType;
      localOpenVolume = o.localOpenVolume;
      reversed = o.reversed;
      ticketCount = o.ticketCount;
      for(int i = 0; i < o.ticketCount; i++)
         tickets[i] = o.tickets[i];
      openedSequence = o.openedSequence;
      dirty = o.dirty;
     }
   bool              HasTicket(ulong t) const
     {
      for(int i = 0; i < ticketCount; i++)
         if(tickets[i] == t)
            return true;
      return false;
     }
   bool              AddTicket(ulong t)
     {
      if(HasTicket(t))
         return true;
      if(ticketCount >= SP_COPY_TICKETS_MAX)
         return false;
      tickets[ticketCount] = t;
      ticketCount++;
      dirty = true;
      return true;
     }
   void              RemoveTicket(ulong t)
     {
      int w = 0;
      for(int i = 0; i < ticketCount; i++)
         if(tickets[i] != t)
           {
            tickets[w] = tickets[i];
            w++;
           }
      ticketCount = w;
      dirty = true;
     }
   string            TicketsText(void) const
     {
      string out = "";
      for(int i = 0; i < ticketCount; i++)
         out += (i == 0 ? "" : ",") + SpUlongToDecimal(tickets[i]);
      return out;
     }
   void              SetTicketsText(const string &text)
     {
      ticketCount = 0;
      int from = 0;
      int n = StringLen(text);
      while(from < n && ticketCount < SP_COPY_TICKETS_MAX)
        {
         int comma = StringFind(text, ",", from);
         if(comma < 0)
            comma = n;
         ulong t = 0;
         if(SpParseUlong(StringSubstr(text, from, comma - from), t))
           {
            tickets[ticketCount] = t;
            ticketCount++;
           }
         from = comma + 1;
        }
     }
  };

class SpPositionMap
  {
private:
   int               m_db;
   string            m_name;
   int               m_putCopy;
   int               m_deleteCopy;
   int               m_setMeta;
   int               m_putReport;
   int               m_deleteReport;
   SpReportList      m_none;

   bool              SetMetaNoTx(const string &key, const string &value)
     {
      PlatformDbReset(m_setMeta);
      PlatformDbBindText(m_setMeta, 0, key);
      PlatformDbBindText(m_setMeta, 1, value);
      return PlatformDbStep(m_setMeta) == 0;
     }

   bool              PutCopyNoTx(const SpCopy &c)
     {
      PlatformDbReset(m_putCopy);
      PlatformDbBindText(m_putCopy, 0, c.masterPositionId);
      PlatformDbBindText(m_putCopy, 1, c.masterSymbol);
      PlatformDbBindLong(m_putCopy, 2, c.masterOrderType);
      PlatformDbBindDouble(m_putCopy, 3, c.masterOpenVolume);
      PlatformDbBindDouble(m_putCopy, 4, c.masterVolume);
      PlatformDbBindDouble(m_putCopy, 5, c.masterStopLoss);
      PlatformDbBindDouble(m_putCopy, 6, c.masterTakeProfit);
      PlatformDbBindLong(m_putCopy, 7, c.status);
      PlatformDbBindText(m_putCopy, 8, c.skipReason);
      PlatformDbBindText(m_putCopy, 9, c.localSymbol);
      PlatformDbBindLong(m_putCopy, 10, c.localOrderType);
      PlatformDbBindDouble(m_putCopy, 11, c.localOpenVolume);
      PlatformDbBindLong(m_putCopy, 12, c.reversed ? 1 : 0);
      PlatformDbBindText(m_putCopy, 13, c.TicketsText());
      PlatformDbBindLong(m_putCopy, 14, (long)c.openedSequence);
      return PlatformDbStep(m_putCopy) == 0;
     }

   bool              PutReportNoTx(const SpExecutionReport &r, ulong carriedSequence)
     {
      PlatformDbReset(m_putReport);
      PlatformDbBindText(m_putReport, 0, SpReportKey(r.sequence, r.masterPositionId, r.kind));
      PlatformDbBindLong(m_putReport, 1, (long)carriedSequence);
      PlatformDbBindLong(m_putReport, 2, (long)r.sequence);
      PlatformDbBindText(m_putReport, 3, r.masterPositionId);
      PlatformDbBindLong(m_putReport, 4, r.kind);
      PlatformDbBindLong(m_putReport, 5, r.outcome);
      PlatformDbBindText(m_putReport, 6, r.ticket);
      PlatformDbBindDouble(m_putReport, 7, r.requestedVolume);
      PlatformDbBindDouble(m_putReport, 8, r.volume);
      PlatformDbBindLong(m_putReport, 9, r.hasPrice ? 1 : 0);
      PlatformDbBindDouble(m_putReport, 10, r.price);
      PlatformDbBindLong(m_putReport, 11, r.hasSlippage ? 1 : 0);
      PlatformDbBindDouble(m_putReport, 12, r.slippagePips);
      PlatformDbBindLong(m_putReport, 13, r.hasDelay ? 1 : 0);
      PlatformDbBindLong(m_putReport, 14, r.delayMs);
      PlatformDbBindLong(m_putReport, 15, r.hasProfit ? 1 : 0);
      PlatformDbBindDouble(m_putReport, 16, r.profit);
      PlatformDbBindText(m_putReport, 17, r.currency);
      PlatformDbBindText(m_putReport, 18, r.reason);
      PlatformDbBindLong(m_putReport, 19, r.executedAt);
      return PlatformDbStep(m_putReport) == 0;
     }

   bool              WriteReportsNoTx(const SpReportList &extra)
     {
      if(!PlatformDbExec(m_db, "DELETE FROM reports"))
         return false;
      for(int i = 0; i < reports.count; i++)
         if(!PutReportNoTx(reports.items[i], 0))
            return false;
      for(int i = 0; i < extra.count; i++)
         if(!PutReportNoTx(extra.items[i], 0))
            return false;
      if(hasCarried)
         for(int i = 0; i < carried.count; i++)
            if(!PutReportNoTx(carried.items[i], carriedSequence))
               return false;
      return true;
     }

public:
   string            subscriptionId;
   bool              hasLast;
   ulong             lastSequence;
   SpCopy            copies[SP_COPIES_MAX];
   int               count;
   string            deleted[SP_COPIES_MAX];
   int               deletedCount;
   /** Reports not acked by the server, oldest first. */
   SpReportList      reports;
   /** Reports of an apply that failed half way, waiting for the retry of carriedSequence. */
   SpReportList      carried;
   bool              hasCarried;
   ulong             carriedSequence;

                     SpPositionMap(void)
     {
      m_db = -1;
      count = 0;
      deletedCount = 0;
      hasLast = false;
      lastSequence = 0;
      hasCarried = false;
      carriedSequence = 0;
      subscriptionId = "";
     }

   string            Open(const string &name)
     {
      m_name = name;
      m_db = PlatformDbOpen(name);
      if(m_db <= 0)
         return "STATE_FILE_UNAVAILABLE: cannot open " + name;
      PlatformDbExec(m_db, "PRAGMA journal_mode=WAL");
      PlatformDbExec(m_db, "PRAGMA synchronous=FULL");
      if(!PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)") ||
         !PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS copies (master_position_id TEXT PRIMARY KEY, master_symbol TEXT, master_order_type INTEGER, master_open_volume REAL, master_volume REAL, master_stop_loss REAL, master_take_profit REAL, status INTEGER, skip_reason TEXT, local_symbol TEXT, local_order_type INTEGER, local_open_volume REAL, reversed INTEGER, tickets TEXT, opened_sequence INTEGER)") ||
         // Reports in insertion order (rowid): a replaced key is reinserted, as the newest.
         !PlatformDbExec(m_db, "CREATE TABLE IF NOT EXISTS reports (key TEXT PRIMARY KEY, carried INTEGER NOT NULL, sequence INTEGER, master_position_id TEXT, kind INTEGER, outcome INTEGER, ticket TEXT, requested_volume REAL, volume REAL, has_price INTEGER, price REAL, has_slippage INTEGER, slippage_pips REAL, has_delay INTEGER, delay_ms INTEGER, has_profit INTEGER, profit REAL, currency TEXT, reason TEXT, executed_at INTEGER)"))
         return "STATE_FILE_UNAVAILABLE: cannot create the tables of " + name;
      m_putCopy = PlatformDbPrepare(m_db, "INSERT OR REPLACE INTO copies VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      m_deleteCopy = PlatformDbPrepare(m_db, "DELETE FROM copies WHERE master_position_id = ?");
      m_setMeta = PlatformDbPrepare(m_db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
      m_putReport = PlatformDbPrepare(m_db, "INSERT OR REPLACE INTO reports (key, carried, sequence, master_position_id, kind, outcome, ticket, requested_volume, volume, has_price, price, has_slippage, slippage_pips, has_delay, delay_ms, has_profit, profit, currency, reason, executed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
      m_deleteReport = PlatformDbPrepare(m_db, "DELETE FROM reports WHERE key = ?");
      if(m_putCopy <= 0 || m_deleteCopy <= 0 || m_setMeta <= 0 || m_putReport <= 0 || m_deleteReport <= 0)
         return "STATE_FILE_UNAVAILABLE: cannot prepare statements";
      return Load();
     }

   void              Close(void)
     {
      if(m_db > 0)
         PlatformDbClose(m_db);
      m_db = -1;
     }

   /** Memory := the file (at start, and after an apply that failed half way). */
   string            Load(void)
     {
      count = 0;
      deletedCount = 0;
      hasLast = false;
      lastSequence = 0;
      hasCarried = false;
      carriedSequence = 0;
      reports.Clear();
      carried.Clear();
      int st = PlatformDbPrepare(m_db, "SELECT key, value FROM meta");
      string key = "", value = "";
      while(PlatformDbStep(st) == 1)
        {
         PlatformDbColumnText(st, 0, key);
         PlatformDbColumnText(st, 1, value);
         if(key == "subscription_id")
            subscriptionId = value;
         else
            if(key == "last_sequence" && value != "")
               hasLast = SpParseUlong(value, lastSequence);
        }
      PlatformDbFinalize(st);
      st = PlatformDbPrepare(m_db, "SELECT * FROM copies ORDER BY opened_sequence, rowid");
      string text = "";
      while(PlatformDbStep(st) == 1)
        {
         if(count >= SP_COPIES_MAX)
           {
            PlatformDbFinalize(st);
            return "STATE_FILE_DAMAGED: more than " + IntegerToString(SP_COPIES_MAX) + " copies";
           }
         SpCopy c;
         PlatformDbColumnText(st, 0, c.masterPositionId);
         PlatformDbColumnText(st, 1, c.masterSymbol);
         c.masterOrderType = (int)PlatformDbColumnLong(st, 2);
         c.masterOpenVolume = PlatformDbColumnDouble(st, 3);
         c.masterVolume = PlatformDbColumnDouble(st, 4);
         c.masterStopLoss = PlatformDbColumnDouble(st, 5);
         c.masterTakeProfit = PlatformDbColumnDouble(st, 6);
         c.status = (int)PlatformDbColumnLong(st, 7);
         PlatformDbColumnText(st, 8, c.skipReason);
         PlatformDbColumnText(st, 9, c.localSymbol);
         c.localOrderType = (int)PlatformDbColumnLong(st, 10);
         c.localOpenVolume = PlatformDbColumnDouble(st, 11);
         c.reversed = PlatformDbColumnLong(st, 12) != 0;
         PlatformDbColumnText(st, 13, text);
         c.SetTicketsText(text);
         c.openedSequence = (ulong)PlatformDbColumnLong(st, 14);
         c.dirty = false;
         copies[count].CopyFrom(c);
         count++;
        }
      PlatformDbFinalize(st);
      st = PlatformDbPrepare(m_db, "SELECT carried, sequence, master_position_id, kind, outcome, ticket, requested_volume, volume, has_price, price, has_slippage, slippage_pips, has_delay, delay_ms, has_profit, profit, currency, reason, executed_at FROM reports ORDER BY rowid");
      while(PlatformDbStep(st) == 1)
        {
         SpExecutionReport r;
         ulong carriedOf = (ulong)PlatformDbColumnLong(st, 0);
         r.sequence = (ulong)PlatformDbColumnLong(st, 1);
         PlatformDbColumnText(st, 2, r.masterPositionId);
         r.kind = (int)PlatformDbColumnLong(st, 3);
         r.outcome = (int)PlatformDbColumnLong(st, 4);
         PlatformDbColumnText(st, 5, r.ticket);
         r.requestedVolume = PlatformDbColumnDouble(st, 6);
         r.volume = PlatformDbColumnDouble(st, 7);
         r.hasPrice = PlatformDbColumnLong(st, 8) != 0;
         r.price = PlatformDbColumnDouble(st, 9);
         r.hasSlippage = PlatformDbColumnLong(st, 10) != 0;
         r.slippagePips = PlatformDbColumnDouble(st, 11);
         r.hasDelay = PlatformDbColumnLong(st, 12) != 0;
         r.delayMs = PlatformDbColumnLong(st, 13);
         r.hasProfit = PlatformDbColumnLong(st, 14) != 0;
         r.profit = PlatformDbColumnDouble(st, 15);
         PlatformDbColumnText(st, 16, r.currency);
         PlatformDbColumnText(st, 17, r.reason);
         r.executedAt = PlatformDbColumnLong(st, 18);
         if(carriedOf > 0)
           {
            hasCarried = true;
            carriedSequence = carriedOf;
            carried.Put(r);
           }
         else
            reports.Put(r);
        }
      PlatformDbFinalize(st);
      return "";
     }

   int               Find(const string &masterPositionId) const
     {
      for(int i = 0; i < count; i++)
         if(copies[i].masterPositionId == masterPositionId)
            return i;
      return -1;
     }

   /** Put `c` (new or replacing its master position); -1 when the map is full. */
   int               Put(const SpCopy &c)
     {
      int at = Find(c.masterPositionId);
      if(at < 0)
        {
         if(count >= SP_COPIES_MAX)
            return -1;
         at = count;
         count++;
        }
      copies[at].CopyFrom(c);
      copies[at].dirty = true;
      for(int i = 0; i < deletedCount; i++)
         if(deleted[i] == c.masterPositionId)
           {
            deletedCount--;
            deleted[i] = deleted[deletedCount];
            break;
           }
      return at;
     }

   void              Delete(const string &masterPositionId)
     {
      int at = Find(masterPositionId);
      if(at < 0)
         return;
      count--;
      // Keep the order of the rest (a snapshot walks the copies in the order they were opened).
      for(int i = at; i < count; i++)
         copies[i].CopyFrom(copies[i + 1]);
      if(deletedCount < SP_COPIES_MAX)
        {
         deleted[deletedCount] = masterPositionId;
         deletedCount++;
        }
     }

   bool              OwnsTicket(ulong ticket) const
     {
      for(int i = 0; i < count; i++)
         if(copies[i].HasTicket(ticket))
            return true;
      return false;
     }

   /**
    * After a delivery or snapshot was applied in full: the changed copies,
    * the last sequence, the subscription, the reports not acked plus
    * `fresh` (this apply's), in one transaction. The carried reports are
    * gone (merged into `fresh`, or reported before).
    */
   bool              SaveApplied(ulong sequence, const SpReportList &fresh)
     {
      if(!PlatformDbBegin(m_db))
         return false;
      bool ok = SetMetaNoTx("last_sequence", SpUlongToDecimal(sequence)) && SetMetaNoTx("subscription_id", subscriptionId);
      for(int i = 0; i < count && ok; i++)
         if(copies[i].dirty)
            ok = PutCopyNoTx(copies[i]);
      for(int i = 0; i < deletedCount && ok; i++)
        {
         PlatformDbReset(m_deleteCopy);
         PlatformDbBindText(m_deleteCopy, 0, deleted[i]);
         ok = PlatformDbStep(m_deleteCopy) == 0;
        }
      bool keepCarried = hasCarried;
      hasCarried = false;
      if(ok)
         ok = WriteReportsNoTx(fresh);
      if(!ok || !PlatformDbCommit(m_db))
        {
         hasCarried = keepCarried;
         PlatformDbRollback(m_db);
         return false;
        }
      carried.Clear();
      for(int i = 0; i < count; i++)
         copies[i].dirty = false;
      deletedCount = 0;
      hasLast = true;
      lastSequence = sequence;
      return true;
     }

   /** An apply failed half way: memory is read again from the file, then its reports wait (in the file too) for its retry. */
   void              ForgetAndCarry(ulong sequence, const SpReportList &pending)
     {
      Load();
      if(pending.count == 0)
         return;
      hasCarried = true;
      carriedSequence = sequence;
      carried.Clear();
      for(int i = 0; i < pending.count; i++)
         carried.Put(pending.items[i]);
      if(PlatformDbBegin(m_db))
        {
         if(WriteReportsNoTx(m_none) && PlatformDbCommit(m_db))
            return;
         PlatformDbRollback(m_db);
        }
     }

   /** The server journaled a report (or refused it for good): it leaves memory and the file. */
   void              ForgetReport(ulong sequence, const string &masterPositionId, int kind)
     {
      if(!reports.Remove(sequence, masterPositionId, kind))
         return;
      PlatformDbReset(m_deleteReport);
      PlatformDbBindText(m_deleteReport, 0, SpReportKey(sequence, masterPositionId, kind));
      PlatformDbStep(m_deleteReport);
     }
  };

#endif
