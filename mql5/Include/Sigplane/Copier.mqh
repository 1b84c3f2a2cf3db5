// The Receiver EA's copier: applies deliveries and snapshots to this
// account under the license's copy settings, exactly once. The same
// behaviour as client/copier.ts, rule for rule (docs/receivers.md):
//
//   - Every delivery's key is (subscription, sequence); the last sequence
//     applied is written with the copies (PositionMap.mqh), so a restarted
//     EA resumes after it and a redelivery changes nothing.
//   - Every order's comment carries a key, "sp:<subscription 6>:<master
//     ticket>" (v1 netting: "sp:<6>:n<sequence base 36>", from a snapshot
//     "...n<sequence>.<index>"). Before it opens, the copier looks for a
//     position with that comment and adopts it: a terminal that died between
//     the broker's fill and the map write does not open it twice.
//   - Volumes are targets measured against what the account holds, so
//     applying the same delivery twice changes nothing.
//   - A snapshot reconciles: copies of positions the master no longer holds
//     are closed, missing ones opened (copyOpenPositions), targets and stops
//     restored, and positions with this subscription's key that no copy owns
//     (orphans of a crash) closed. Positions without the key are never
//     touched.
//   - When applying fails half way (a requote that persists, a refusal of
//     the terminal), memory is read again from the file and the delivery
//     comes again after a reconnect; the reports of the fills that did
//     happen are carried into its retry and reported once, complete.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_COPIER_MQH
#define SIGPLANE_COPIER_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Frames.mqh>
#include <Sigplane/CopySettings.mqh>
#include <Sigplane/CopyRules.mqh>
#include <Sigplane/ExecutionReports.mqh>
#include <Sigplane/PositionMap.mqh>
#include <Sigplane/TerminalPositions.mqh>

class SpCopier
  {
private:
   SpPositionMap     m_map;
   SpCopySettings    m_settings;
   bool              m_hasSettings;
   ulong             m_revision;
   string            m_currency;
   SpTerminalPositions m_held;
   SpReportList      m_pending;
   SpOpenPlan        m_plan;
   SpMasterPositionInput m_master;
   SpCopy            m_entry;
   SpTradeResult     m_result;
   SpSymbolSpec      m_spec;
   // The signal being applied (none for a snapshot): the reference of slippage and delay.
   bool              m_hasSignal;
   string            m_signalSymbol;
   double            m_signalPrice;
   bool              m_hasGeneratedAt;
   long              m_generatedAtMs;
   // Execution report inputs of one execution.
   string            m_why;

   // ---- keys ----

   string            KeyPrefix(void) const { return "sp:" + SpShortSubscription(m_map.subscriptionId) + ":"; }
   string            KeyOf(const string &suffix) const { return KeyPrefix() + suffix; }
   string            NettingKey(ulong sequence) const { return KeyOf("n" + SpBase36(sequence)); }
   string            NettingKeyAt(ulong sequence, int index) const { return KeyOf("n" + SpBase36(sequence) + "." + SpBase36((ulong)index)); }

   bool              Bind(const string &subscriptionId)
     {
      if(m_map.subscriptionId == "")
        {
         m_map.subscriptionId = subscriptionId;
         return true;
        }
      if(m_map.subscriptionId != subscriptionId)
        {
         PlatformLog(SP_LOG_ERROR, "STATE_FILE_OF_ANOTHER_SUBSCRIPTION", "the position map belongs to " + m_map.subscriptionId + ", not " + subscriptionId);
         return false;
        }
      return true;
     }

   // ---- the broker ----

   void              LoadHeld(void) { m_held.Load(); }

   /** A close of `volume` of `ticket`, repeated on transient refusals. */
   bool              AttemptClose(ulong ticket, double volume)
     {
      for(int i = 0; i < SP_BROKER_ATTEMPTS_MAX; i++)
        {
         if(PlatformTradeClose(ticket, volume, m_result))
            return true;
         if(!m_result.transient)
            return false;
        }
      return false;
     }

   bool              AttemptModify(ulong ticket, double sl, double tp)
     {
      for(int i = 0; i < SP_BROKER_ATTEMPTS_MAX; i++)
        {
         if(PlatformTradeModify(ticket, sl, tp, m_result))
            return true;
         if(!m_result.transient)
            return false;
        }
      return false;
     }

   bool              AttemptOpen(const string &symbol, int orderType, double volume, double sl, double tp, const string &comment)
     {
      for(int i = 0; i < SP_BROKER_ATTEMPTS_MAX; i++)
        {
         if(PlatformTradeOpen(symbol, orderType, volume, sl, tp, comment, m_result))
            return true;
         if(!m_result.transient)
            return false;
        }
      return false;
     }

   bool              Fail(const string &what)
     {
      m_why = what + ": retcode " + IntegerToString(m_result.retcode);
      return false;
     }

   /** The realized result of closing `volume` of held position `h` at `price`, to 8 decimals. */
   double            Realized(int heldIndex, double price, double volume, bool &has)
     {
      has = false;
      if(m_result.hasProfit)
        {
         has = MathIsValidNumber(m_result.profit);
         return SpToFixedNumber(m_result.profit, 8);
        }
      if(!PlatformSymbolSpec(m_held.items[heldIndex].symbol, m_spec) || !(m_spec.tickSize > 0))
         return 0;
      double move = m_held.items[heldIndex].type == 0 ? price - m_held.items[heldIndex].priceOpen : m_held.items[heldIndex].priceOpen - price;
      double profit = (move / m_spec.tickSize) * m_spec.tickValue * volume;
      has = MathIsValidNumber(profit);
      return SpToFixedNumber(profit, 8);
     }

   // ---- reports (client/copier.ts report and queueReport) ----

   /**
    * One execution: merged into the pending report of its key (several
    * tickets of one close are one report: volumes and profits add up,
    * prices and slippage are volume-weighted).
    */
   void              Report(ulong sequence, const string &masterPositionId, int kind, const string &ticket, double volume, double requested, bool hasPrice,
                            double price, const string &reason, int fillSide, bool slippageAgainstSignal, bool againstOpenMaster, bool hasProfit, double profit)
     {
      long atMs = PlatformNowMs();
      bool hasSlippage = false;
      double slippage = 0;
      string refSymbol = againstOpenMaster ? m_master.symbol : m_signalSymbol;
      double refPrice = againstOpenMaster ? m_master.price : m_signalPrice;
      if(fillSide >= 0 && hasPrice && (againstOpenMaster || (slippageAgainstSignal && m_hasSignal)) && refPrice > 0)
        {
         double worse = fillSide == 0 ? price - refPrice : refPrice - price;
         slippage = SpToFixedNumber(worse / SpPipSize(refSymbol), 2);
         hasSlippage = true;
        }
      bool hasDelay = m_hasGeneratedAt;
      long delay = m_hasGeneratedAt ? atMs - m_generatedAtMs : 0;
      if(delay < 0)
         delay = 0;
      bool isClose = kind == SP_KIND_CLOSE || kind == SP_KIND_REDUCE;
      int at = m_pending.Find(sequence, masterPositionId, kind);
      if(at < 0)
        {
         SpExecutionReport r;
         r.sequence = sequence;
         r.masterPositionId = masterPositionId;
         r.kind = kind;
         bool skip = kind == SP_KIND_SKIP;
         r.outcome = skip ? (SpStartsWith(reason, SP_SKIP_BROKER_REJECTED) ? SP_OUTCOME_REJECTED : SP_OUTCOME_SKIPPED)
                     : (volume < requested - SP_VOLUME_EPSILON ? SP_OUTCOME_PARTIALLY_FILLED : SP_OUTCOME_FILLED);
         r.ticket = skip ? "" : ticket;
         r.requestedVolume = requested;
         r.volume = skip ? 0 : volume;
         r.hasPrice = !skip && hasPrice;
         r.price = r.hasPrice ? price : 0;
         r.hasSlippage = !skip && hasSlippage;
         r.slippagePips = r.hasSlippage ? slippage : 0;
         r.hasDelay = hasDelay;
         r.delayMs = delay;
         r.hasProfit = isClose && hasProfit;
         r.profit = r.hasProfit ? SpToFixedNumber(profit, 8) : 0;
         r.currency = r.hasProfit ? m_currency : "";
         r.reason = skip ? reason : "";
         r.executedAt = atMs;
         m_pending.Put(r);
         return;
        }
      // Another ticket of the same copy in the same apply.
      double prior = m_pending.items[at].volume;
      double total = prior + volume;
      if(hasPrice)
        {
         if(!m_pending.items[at].hasPrice || total <= 0)
           {
            if(!m_pending.items[at].hasPrice)
              {
               m_pending.items[at].hasPrice = true;
               m_pending.items[at].price = price;
              }
           }
         else
            m_pending.items[at].price = SpToFixedNumber((m_pending.items[at].price * prior + price * volume) / total, 8);
        }
      if(hasSlippage)
        {
         if(!m_pending.items[at].hasSlippage || total <= 0)
           {
            if(!m_pending.items[at].hasSlippage)
              {
               m_pending.items[at].hasSlippage = true;
               m_pending.items[at].slippagePips = slippage;
              }
           }
         else
            m_pending.items[at].slippagePips = SpToFixedNumber((m_pending.items[at].slippagePips * prior + slippage * volume) / total, 8);
        }
      m_pending.items[at].volume = SpToFixedNumber(total, 8);
      m_pending.items[at].requestedVolume = SpToFixedNumber(m_pending.items[at].requestedVolume + requested, 8);
      if(isClose && hasProfit)
        {
         m_pending.items[at].profit = SpToFixedNumber((m_pending.items[at].hasProfit ? m_pending.items[at].profit : 0) + profit, 8);
         m_pending.items[at].hasProfit = true;
         m_pending.items[at].currency = m_currency;
        }
      if(m_pending.items[at].outcome == SP_OUTCOME_FILLED && volume < requested - SP_VOLUME_EPSILON)
         m_pending.items[at].outcome = SP_OUTCOME_PARTIALLY_FILLED;
      m_pending.items[at].executedAt = atMs;
     }

   void              ReportSkip(ulong sequence, const string &masterPositionId, const string &reason)
     {
      Report(sequence, masterPositionId, SP_KIND_SKIP, "", 0, 0, false, 0, reason, -1, false, false, false, 0);
     }

   // ---- the map ----

   /** Remember a master position as copied (adopted / opened) or skipped; its index in the map, -1 when full. */
   int               Remember(const string &masterPositionId, int heldIndex, ulong sequence, const string &skipReason, bool reversed)
     {
      m_entry.Reset();
      m_entry.masterPositionId = masterPositionId;
      m_entry.masterSymbol = m_master.symbol;
      m_entry.masterOrderType = m_master.orderType == 1 ? 1 : 0;
      m_entry.masterOpenVolume = m_master.volume;
      m_entry.masterVolume = m_master.volume;
      m_entry.masterStopLoss = m_master.stopLoss;
      m_entry.masterTakeProfit = m_master.takeProfit;
      m_entry.status = skipReason == "" ? SP_COPY_COPIED : SP_COPY_SKIPPED;
      m_entry.skipReason = skipReason;
      m_entry.localSymbol = heldIndex >= 0 ? m_held.items[heldIndex].symbol : SpMapSymbol(m_settings, m_master.symbol);
      m_entry.localOrderType = heldIndex >= 0 ? m_held.items[heldIndex].type : SpLocalOrderType(reversed, m_entry.masterOrderType);
      m_entry.localOpenVolume = heldIndex >= 0 ? m_held.items[heldIndex].volume : 0;
      m_entry.reversed = reversed;
      m_entry.ticketCount = 0;
      if(heldIndex >= 0)
         m_entry.AddTicket(m_held.items[heldIndex].ticket);
      m_entry.openedSequence = sequence;
      return m_map.Put(m_entry);
     }

   // ---- the operations ----

   /** Open (or adopt) the copy of m_master. */
   bool              OpenCopy(const string &masterPositionId, ulong sequence, bool hasGeneratedAt, long generatedAtMs, const string &key)
     {
      string symbol = SpMapSymbol(m_settings, m_master.symbol);
      LoadHeld();
      int existing = m_held.FindComment(key, symbol);
      if(existing >= 0)
        {
         // Filled before a crash, never written down: adopt, do not open again.
         int at = Remember(masterPositionId, existing, sequence, "", m_settings.reverse);
         if(at < 0)
            return Fail("the position map is full");
         Report(sequence, masterPositionId, SP_KIND_ADOPT, SpUlongToDecimal(m_held.items[existing].ticket), m_held.items[existing].volume,
                m_held.items[existing].volume, true, m_held.items[existing].priceOpen, "", -1, false, false, false, 0);
         return true;
        }
      bool hasSpec = PlatformSymbolSpec(symbol, m_spec);
      double bid = 0, ask = 0;
      bool hasQuote = hasSpec && PlatformSymbolQuote(symbol, bid, ask);
      SpPlanOpen(m_settings, m_master, hasSpec, m_spec, hasQuote, bid, ask, PlatformAccountEquity(), hasGeneratedAt, generatedAtMs, PlatformNowMs(), m_plan);
      if(!m_plan.open)
        {
         if(Remember(masterPositionId, -1, sequence, m_plan.reason, m_settings.reverse) < 0)
            return Fail("the position map is full");
         ReportSkip(sequence, masterPositionId, m_plan.reason);
         PlatformLog(SP_LOG_DEBUG, "SKIP", masterPositionId + " " + m_plan.reason + ": " + m_plan.detail);
         return true;
        }
      if(!AttemptOpen(m_plan.symbol, m_plan.orderType, m_plan.volume, m_plan.stopLoss, m_plan.takeProfit, key))
        {
         if(m_result.transient)
            return Fail("opening " + masterPositionId);
         if(Remember(masterPositionId, -1, sequence, SP_SKIP_BROKER_REJECTED, m_settings.reverse) < 0)
            return Fail("the position map is full");
         string rejected = SP_SKIP_BROKER_REJECTED;
         rejected += ":" + IntegerToString(m_result.retcode);
         ReportSkip(sequence, masterPositionId, rejected);
         return true;
        }
      int at = Remember(masterPositionId, -1, sequence, "", m_settings.reverse);
      if(at < 0)
         return Fail("the position map is full");
      m_map.copies[at].ticketCount = 0;
      m_map.copies[at].AddTicket(m_result.ticket);
      m_map.copies[at].localOpenVolume = m_result.volume;
      Report(sequence, masterPositionId, SP_KIND_OPEN, SpUlongToDecimal(m_result.ticket), m_result.volume, m_plan.volume, true, m_result.price, "",
             m_plan.orderType, false, true, false, 0);
      PlatformLog(SP_LOG_DEBUG, "OPENED", masterPositionId + " as " + SpUlongToDecimal(m_result.ticket) + " " + m_plan.symbol + " " + DoubleToString(m_result.volume, 2));
      return true;
     }

   /** Close every ticket of the copy at `at`, and forget it. */
   bool              CloseCopy(int at, ulong sequence)
     {
      LoadHeld();
      string id = m_map.copies[at].masterPositionId;
      for(int i = 0; i < m_map.copies[at].ticketCount; i++)
        {
         ulong ticket = m_map.copies[at].tickets[i];
         int h = m_held.FindTicket(ticket);
         if(h < 0)
            continue; // already closed (before a crash, or by its own stop)
         double volume = m_held.items[h].volume;
         if(!AttemptClose(ticket, volume))
            return Fail("closing " + SpUlongToDecimal(ticket));
         bool hasProfit = false;
         double profit = Realized(h, m_result.price, volume, hasProfit);
         Report(sequence, id, SP_KIND_CLOSE, SpUlongToDecimal(ticket), volume, volume, true, m_result.price, "", m_held.items[h].type == 0 ? 1 : 0, true,
                false, hasProfit, profit);
        }
      m_map.Delete(id);
      return true;
     }

   /** Bring the copy at `at` to its target volume: reduce from the newest ticket; grow (v1 netting only) with a new ticket. */
   bool              BringToTarget(int at, ulong sequence, const string &growKey)
     {
      if(m_map.copies[at].status != SP_COPY_COPIED)
         return true;
      if(!PlatformSymbolSpec(m_map.copies[at].localSymbol, m_spec))
        {
         m_why = "the broker no longer has " + m_map.copies[at].localSymbol;
         return false;
        }
      LoadHeld();
      // Tickets that disappeared (their own stop, closed by hand) are forgotten; none left: closed locally.
      for(int i = m_map.copies[at].ticketCount - 1; i >= 0; i--)
         if(m_held.FindTicket(m_map.copies[at].tickets[i]) < 0)
            m_map.copies[at].RemoveTicket(m_map.copies[at].tickets[i]);
      if(m_map.copies[at].ticketCount == 0)
        {
         m_map.copies[at].status = SP_COPY_CLOSED_LOCALLY;
         m_map.copies[at].dirty = true;
         return true;
        }
      double target = SpTargetVolume(m_map.copies[at].localOpenVolume, m_map.copies[at].masterOpenVolume, m_map.copies[at].masterVolume, m_settings, m_spec);
      double holding = 0;
      for(int i = 0; i < m_map.copies[at].ticketCount; i++)
         holding = holding + m_held.items[m_held.FindTicket(m_map.copies[at].tickets[i])].volume;
      holding = SpRoundVolume(holding);
      double excess = SpRoundToStep(holding - target, m_spec.volumeStep, false);
      string id = m_map.copies[at].masterPositionId;
      for(int i = m_map.copies[at].ticketCount - 1; i >= 0 && excess > SP_VOLUME_EPSILON; i--)
        {
         ulong ticket = m_map.copies[at].tickets[i];
         int h = m_held.FindTicket(ticket);
         double volume = MathMin(m_held.items[h].volume, excess);
         if(!AttemptClose(ticket, volume))
            return Fail("reducing " + SpUlongToDecimal(ticket));
         bool whole = volume >= m_held.items[h].volume - SP_VOLUME_EPSILON;
         if(whole)
            m_map.copies[at].RemoveTicket(ticket);
         excess = SpRoundVolume(excess - volume);
         bool hasProfit = false;
         double profit = Realized(h, m_result.price, volume, hasProfit);
         Report(sequence, id, whole ? SP_KIND_CLOSE : SP_KIND_REDUCE, SpUlongToDecimal(ticket), volume, volume, true, m_result.price, "",
                m_held.items[h].type == 0 ? 1 : 0, true, false, hasProfit, profit);
        }
      double missing = SpRoundToStep(target - holding, m_spec.volumeStep, false);
      if(missing > SP_VOLUME_EPSILON && SpStartsWith(id, "v1:"))
        {
         int existing = m_held.FindComment(growKey, m_map.copies[at].localSymbol);
         if(existing >= 0)
           {
            if(!m_map.copies[at].AddTicket(m_held.items[existing].ticket))
               return Fail("too many tickets for " + id);
           }
         else
           {
            double sl = 0, tp = 0;
            SpLocalStops(m_settings, m_map.copies[at].reversed, m_map.copies[at].masterStopLoss, m_map.copies[at].masterTakeProfit, sl, tp);
            if(!AttemptOpen(m_map.copies[at].localSymbol, m_map.copies[at].localOrderType, missing, sl, tp, growKey))
               return Fail("adding to " + id);
            if(!m_map.copies[at].AddTicket(m_result.ticket))
               return Fail("too many tickets for " + id);
            Report(sequence, id, SP_KIND_OPEN, SpUlongToDecimal(m_result.ticket), m_result.volume, missing, true, m_result.price, "",
                   m_map.copies[at].localOrderType, true, false, false, 0);
           }
        }
      m_map.copies[at].dirty = true;
      return true;
     }

   /** Stops as the settings say (reversed as the copy was opened), on every ticket that differs. */
   bool              SyncStops(int at, ulong sequence)
     {
      double sl = 0, tp = 0;
      SpLocalStops(m_settings, m_map.copies[at].reversed, m_map.copies[at].masterStopLoss, m_map.copies[at].masterTakeProfit, sl, tp);
      LoadHeld();
      for(int i = 0; i < m_map.copies[at].ticketCount; i++)
        {
         ulong ticket = m_map.copies[at].tickets[i];
         int h = m_held.FindTicket(ticket);
         if(h < 0 || (m_held.items[h].stopLoss == sl && m_held.items[h].takeProfit == tp))
            continue;
         double volume = m_held.items[h].volume;
         if(!AttemptModify(ticket, sl, tp))
            return Fail("modifying " + SpUlongToDecimal(ticket));
         Report(sequence, m_map.copies[at].masterPositionId, SP_KIND_MODIFY, SpUlongToDecimal(ticket), volume, volume, false, 0, "", -1, false, false, false, 0);
        }
      return true;
     }

   // ---- deliveries ----

   bool              OnNettingOrder(const SpDelivery &d)
     {
      int side = d.signal.orderType;
      if(side != 0 && side != 1)
         return true; // pending orders do not change the book
      string id = "v1:" + d.signal.symbol;
      int at = m_map.Find(id);
      double before = at < 0 ? 0 : (m_map.copies[at].masterOrderType == 0 ? m_map.copies[at].masterVolume : -m_map.copies[at].masterVolume);
      double after = SpRoundVolume(before + (side == 0 ? d.signal.volume : -d.signal.volume));
      bool flipped = at >= 0 && (MathAbs(after) <= SP_VOLUME_EPSILON || (after > 0) != (before > 0));
      if(at >= 0 && flipped)
        {
         if(!CloseCopy(at, d.sequence))
            return false;
        }
      if(MathAbs(after) <= SP_VOLUME_EPSILON)
         return true;
      if(at < 0 || flipped)
        {
         m_master.symbol = d.signal.symbol;
         m_master.orderType = after > 0 ? 0 : 1;
         m_master.volume = MathAbs(after);
         m_master.price = d.signal.price;
         m_master.stopLoss = 0;
         m_master.takeProfit = 0;
         m_master.magic = d.signal.magic;
         return OpenCopy(id, d.sequence, true, d.signal.generatedAt, NettingKey(d.sequence));
        }
      m_map.copies[at].masterVolume = MathAbs(after);
      m_map.copies[at].dirty = true;
      return BringToTarget(at, d.sequence, NettingKey(d.sequence));
     }

   bool              DoDelivery(const SpDelivery &d)
     {
      m_hasSignal = true;
      m_signalSymbol = d.signal.symbol;
      m_signalPrice = d.signal.price;
      m_hasGeneratedAt = true;
      m_generatedAtMs = d.signal.generatedAt;
      if(!Bind(d.subscriptionId))
        {
         m_why = "position map of another subscription";
         return false;
        }
      ulong sequence = d.sequence;
      if(m_map.hasLast && sequence <= m_map.lastSequence)
         return true; // applied before a restart
      string id = SpUlongToDecimal(d.signal.positionId);
      int action = d.signal.action;
      bool ok = true;
      if(action == SP_ACTION_NETTING)
         ok = OnNettingOrder(d);
      else
         if(action == SP_ACTION_OPEN)
           {
            if(m_map.Find(id) < 0)
              {
               m_master.symbol = d.signal.symbol;
               m_master.orderType = d.signal.orderType;
               m_master.volume = d.signal.volume;
               m_master.price = d.signal.price;
               m_master.stopLoss = d.signal.stopLoss;
               m_master.takeProfit = d.signal.takeProfit;
               m_master.magic = d.signal.magic;
               ok = OpenCopy(id, sequence, true, d.signal.generatedAt, KeyOf(id));
              }
           }
         else
           {
            int at = m_map.Find(id);
            if(at >= 0)
              {
               if(action == SP_ACTION_MODIFY)
                 {
                  m_map.copies[at].masterStopLoss = d.signal.stopLoss;
                  m_map.copies[at].masterTakeProfit = d.signal.takeProfit;
                  m_map.copies[at].dirty = true;
                  if(m_map.copies[at].status == SP_COPY_COPIED)
                     ok = SyncStops(at, sequence);
                 }
               else
                  if(action == SP_ACTION_PARTIAL_CLOSE)
                    {
                     m_map.copies[at].masterVolume = MathMax(0.0, SpRoundVolume(m_map.copies[at].masterVolume - d.signal.volume));
                     m_map.copies[at].dirty = true;
                     ok = BringToTarget(at, sequence, NettingKey(sequence));
                    }
                  else
                     if(action == SP_ACTION_CLOSE)
                        ok = CloseCopy(at, sequence);
              }
           }
      if(!ok)
         return false;
      return SaveApplied(sequence);
     }

   // ---- snapshots ----

   bool              DoSnapshot(const SpSnapshot &s)
     {
      m_hasSignal = false;
      m_hasGeneratedAt = false;
      if(!Bind(s.subscriptionId))
        {
         m_why = "position map of another subscription";
         return false;
        }
      ulong sequence = s.sequence;
      // Copies: gone from the master (or another side) -> closed; held -> targets and stops.
      int i = 0;
      while(i < m_map.count)
        {
         int p = s.positions.Find(m_map.copies[i].masterPositionId);
         if(p < 0 || (s.positions.items[p].orderType != m_map.copies[i].masterOrderType && m_map.copies[i].status != SP_COPY_SKIPPED))
           {
            if(!CloseCopy(i, sequence))
               return false;
            continue; // the next copy moved into this index
           }
         m_map.copies[i].masterVolume = s.positions.items[p].volume;
         m_map.copies[i].masterStopLoss = s.positions.items[p].stopLoss;
         m_map.copies[i].masterTakeProfit = s.positions.items[p].takeProfit;
         m_map.copies[i].dirty = true;
         if(!BringToTarget(i, sequence, NettingKeyAt(sequence, p)))
            return false;
         if(m_map.copies[i].status == SP_COPY_COPIED && !SyncStops(i, sequence))
            return false;
         i++;
        }
      // Positions without a copy: opened (copyOpenPositions), else remembered as skipped.
      for(int p = 0; p < s.positions.count; p++)
        {
         if(m_map.Find(s.positions.items[p].positionId) >= 0)
            continue;
         if(s.positions.items[p].orderType != 0 && s.positions.items[p].orderType != 1)
            continue;
         m_master.symbol = s.positions.items[p].symbol;
         m_master.orderType = s.positions.items[p].orderType;
         m_master.volume = s.positions.items[p].volume;
         m_master.price = s.positions.items[p].openPrice;
         m_master.stopLoss = s.positions.items[p].stopLoss;
         m_master.takeProfit = s.positions.items[p].takeProfit;
         m_master.magic = s.positions.items[p].magic;
         string id = s.positions.items[p].positionId;
         string key = SpStartsWith(id, "v1:") ? NettingKeyAt(sequence, p) : KeyOf(id);
         LoadHeld();
         if(!m_settings.copyOpenPositions && !HeldComment(key))
           {
            if(Remember(id, -1, sequence, SP_SKIP_OPEN_POSITIONS_NOT_COPIED, false) < 0)
               return Fail("the position map is full");
            ReportSkip(sequence, id, SP_SKIP_OPEN_POSITIONS_NOT_COPIED);
            continue;
           }
         if(!OpenCopy(id, sequence, false, 0, key))
            return false;
        }
      // Orphans: this subscription's key on a position no copy owns (a crash between a fill and the map write).
      LoadHeld();
      string prefix = KeyPrefix();
      for(int h = 0; h < m_held.count; h++)
        {
         if(!SpStartsWith(m_held.items[h].comment, prefix) || m_map.OwnsTicket(m_held.items[h].ticket))
            continue;
         ulong ticket = m_held.items[h].ticket;
         double volume = m_held.items[h].volume;
         if(!AttemptClose(ticket, volume))
            return Fail("closing orphan " + SpUlongToDecimal(ticket));
         bool hasProfit = false;
         double profit = Realized(h, m_result.price, volume, hasProfit);
         Report(sequence, StringSubstr(m_held.items[h].comment, StringLen(prefix)), SP_KIND_CLOSE, SpUlongToDecimal(ticket), volume, volume, true,
                m_result.price, "ORPHAN", -1, false, false, hasProfit, profit);
        }
      return SaveApplied(sequence);
     }

   /** Any held position carries `comment` (client/copier.ts checks the comment alone here). */
   bool              HeldComment(const string &comment) const
     {
      for(int h = 0; h < m_held.count; h++)
         if(m_held.items[h].comment == comment)
            return true;
      return false;
     }

   bool              SaveApplied(ulong sequence)
     {
      if(!m_map.SaveApplied(sequence, m_pending))
        {
         m_why = "the position map could not be written";
         return false;
        }
      return true;
     }

   /** The delivery (or snapshot) being applied takes the carried reports of its own sequence; others are reported as they are. */
   void              TakeCarried(ulong sequence)
     {
      m_pending.Clear();
      if(!m_map.hasCarried)
         return;
      for(int i = 0; i < m_map.carried.count; i++)
        {
         if(m_map.carriedSequence == sequence)
            m_pending.Put(m_map.carried.items[i]);
         else
            Emit(m_map.carried.items[i]);
        }
     }

   void              Emit(const SpExecutionReport &r)
     {
      m_map.reports.Put(r);
      outgoing.Put(r);
     }

   bool              Finish(bool ok, ulong sequence)
     {
      if(!ok)
        {
         PlatformLog(SP_LOG_WARN, "APPLY_FAILED", "sequence " + SpUlongToDecimal(sequence) + ": " + m_why + "; it comes again after the reconnect");
         m_map.ForgetAndCarry(sequence, m_pending);
         m_pending.Clear();
         return false;
        }
      for(int i = 0; i < m_pending.count; i++)
        {
         Emit(m_pending.items[i]);
         PlatformLog(SP_LOG_DEBUG, "REPORT", SpReportKey(m_pending.items[i].sequence, m_pending.items[i].masterPositionId, m_pending.items[i].kind));
        }
      m_pending.Clear();
      return true;
     }

public:
   /** Reports made since the session last sent them (it clears this). */
   SpReportList      outgoing;

                     SpCopier(void)
     {
      m_hasSettings = false;
      m_revision = 0;
      m_currency = "USD";
      m_hasSignal = false;
      m_signalSymbol = "";
      m_signalPrice = 0;
      m_hasGeneratedAt = false;
      m_generatedAtMs = 0;
      m_why = "";
     }

   string            Open(const string &name)
     {
      string problem = m_map.Open(name);
      if(problem != "")
         return problem;
      m_currency = PlatformAccountCurrency();
      if(!SpCurrencyValid(m_currency))
         m_currency = "USD";
      return "";
     }

   void              Close(void) { m_map.Close(); }

   bool              HasLast(void) const { return m_map.hasLast; }
   ulong             LastSequence(void) const { return m_map.lastSequence; }
   int               Copies(void) const { return m_map.count; }
   ulong             Revision(void) const { return m_revision; }
   bool              HasSettings(void) const { return m_hasSettings; }
   /** Reports not acked yet (sent again after every Welcome). */
   int               UnackedCount(void) const { return m_map.reports.count; }
   void              UnackedReport(int i, SpExecutionReport &out) const { out.CopyFrom(m_map.reports.items[i]); }
   ulong             UnackedSequence(int i) const { return m_map.reports.items[i].sequence; }

   /** Newer settings replace older ones; an older revision (a late resend) is ignored. */
   void              OnSettings(const SpCopySettings &settings, ulong revision)
     {
      if(m_hasSettings && revision < m_revision)
         return;
      m_settings.CopyFrom(settings);
      m_revision = revision;
      m_hasSettings = true;
     }

   /** Apply one delivery; false when it failed half way (memory was read again; it must come again). */
   bool              ApplyDelivery(const SpDelivery &d)
     {
      if(!m_hasSettings)
        {
         PlatformLog(SP_LOG_ERROR, "SETTINGS_MISSING", "no copy settings from the server yet: nothing is executed without them");
         return false;
        }
      TakeCarried(d.sequence);
      return Finish(DoDelivery(d), d.sequence);
     }

   bool              ApplySnapshot(const SpSnapshot &s)
     {
      if(!m_hasSettings)
        {
         PlatformLog(SP_LOG_ERROR, "SETTINGS_MISSING", "no copy settings from the server yet: nothing is executed without them");
         return false;
        }
      TakeCarried(s.sequence);
      return Finish(DoSnapshot(s), s.sequence);
     }

   void              ForgetReport(ulong sequence, const string &masterPositionId, int kind) { m_map.ForgetReport(sequence, masterPositionId, kind); }

   /** Reports of `sequence` refused for good: forgotten. */
   int               ForgetReportsOf(ulong sequence)
     {
      int n = 0;
      for(int i = m_map.reports.count - 1; i >= 0; i--)
         if(m_map.reports.items[i].sequence == sequence)
           {
            m_map.ForgetReport(sequence, m_map.reports.items[i].masterPositionId, m_map.reports.items[i].kind);
            n++;
           }
      return n;
     }
  };

#endif
