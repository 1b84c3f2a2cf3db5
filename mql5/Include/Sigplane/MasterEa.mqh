// The Master EA: publishes the terminal's positions to a subscription.
// SigplaneMaster.mq5 forwards its event handlers here; everything else is
// the shared code and the platform interface.
//
//   OnTradeTransaction  remember a deal's price, then compare the terminal's
//                       positions with the book and publish each difference
//                       (MasterDiff.mqh), one signed, sequenced frame per
//                       signal, committed with the book in one transaction
//                       (MasterStore.mqh)
//   OnTimer / OnTick    read the socket, send what waits, heartbeats, the
//                       comparison once a second
//
// Sequences: the last assigned one is in the state file; the first signal
// ever is Welcome.last_sequence + 1. The outbox is sent again after every
// Welcome, from its oldest frame, the same bytes (never signed again);
// what the Welcome says the server has is forgotten.
//
// Answers (docs/protocol.md; the resend policy):
//   Ack                 forget the frame
//   BUSY, RATE_LIMITED  nothing from N on was taken: wait for the refused
//                       burst, back off, send again from N (BusyWindow.mqh)
//   any other refusal   the signal can never be accepted in order: the
//   (STALE, REPLAY,     outbox is dropped and a signed snapshot of the book
//    PRICE_DEVIATION,   at the last assigned sequence is sent instead;
//    POSITION_UNKNOWN,  receivers reconcile to it and signals continue after
//    INVALID_FIELD ...) it (v1 keys cannot sign a snapshot: logged)
//   SyncRequest         the range again from the outbox, or a snapshot when
//                       it no longer holds all of it, or {full}
//   StateChange         logged; ACTIVE at N: everything up to N is held
// Every frame sent takes a token of the pacing bucket (TokenBucket.mqh).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_MASTER_EA_MQH
#define SIGPLANE_MASTER_EA_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Frames.mqh>
#include <Sigplane/Signing.mqh>
#include <Sigplane/WsClient.mqh>
#include <Sigplane/TokenBucket.mqh>
#include <Sigplane/BusyWindow.mqh>
#include <Sigplane/MasterStore.mqh>
#include <Sigplane/MasterDiff.mqh>

// Events handled per OnTimer / OnTick at most: the rest waits for the next.
#define SP_EVENTS_PER_POLL_MAX 256
// After a snapshot was sent, a refusal naming no sequence (a MAC or shape problem) is taken as its refusal for this long.
#define SP_SNAPSHOT_ANSWER_WINDOW_MS 10000

class SpMasterConfig
  {
public:
   string            serverUrl;
   string            token;
   string            keyId;
   string            macSecret;
   int               signingVersion;
   string            instance;
   string            pinnedThumbprint;
                     SpMasterConfig(void) { serverUrl = ""; token = ""; keyId = ""; macSecret = ""; signingVersion = 2; instance = ""; pinnedThumbprint = ""; }
  };

class SigplaneMasterEa
  {
private:
   SpWsClient        m_ws;
   SpInbound         m_in;
   SpFrameEncoder    m_encoder;
   SpSigner          m_signer;
   SpMasterStore     m_store;
   SpMasterDiff      m_diff;
   SpTerminalPositions m_terminal;
   SpDealPrices      m_deals;
   SpTokenBucket     m_bucket;
   SpBusyWindow      m_busy;
   SpBookChange      m_change;
   SpSignalBody      m_body;
   SpPositionList    m_snapshot;
   ByteBuffer        m_message;
   ByteBuffer        m_frame;
   string            m_stateName;
   bool              m_initialized;
   bool              m_welcomed;
   bool              m_stopped;
   long              m_openedAtMs;
   long              m_lastHeartbeatMs;
   long              m_lastReconcileMs;
   long              m_resendAtMs;
   long              m_snapshotRetryAtMs;
   long              m_snapshotRetryDelayMs;
   ulong             m_snapshotSequence;
   long              m_snapshotSentAtMs;
   // The highest signal a snapshot dropped from the outbox while it was on
   // this connection unanswered (0: none). Its answer still comes, before the
   // snapshot's (the server answers a connection's frames in order), and may
   // carry the snapshot's own sequence: it must not be taken for the answer to
   // the snapshot.
   ulong             m_droppedInFlightUpTo;
   int               m_serverState;
   // Counters (the status of the C++ terminal loop reads them).
   long              m_signalsPublished;
   long              m_acks;
   long              m_snapshotsSent;
   long              m_framesSent;
   long              m_reconciles;

   // ---- sending ----

   /** One frame now, paced: false when the bucket is empty or the socket refused. */
   bool              SendPaced(const ByteBuffer &frame, long nowMs)
     {
      if(!m_ws.IsOpen() || !m_bucket.TryTake(nowMs))
         return false;
      if(!m_ws.SendBinary(frame))
         return false;
      m_framesSent++;
      return true;
     }

   /** The highest outbox sequence sent on this connection and not answered (0: none). */
   ulong             InFlightMax(void) const
     {
      ulong highest = 0;
      for(int i = 0; i < m_store.OutboxSlots(); i++)
        {
         ulong s = m_store.OutboxSequence(i);
         if(s != 0 && s <= m_busy.sentUpTo && s > highest)
            highest = s;
        }
      return highest;
     }

   /**
    * An answer to a signal the last snapshot dropped while it was in flight:
    * true when it is one (it is then done with). Answers come in order, so
    * the one for the highest dropped signal is the last of them.
    */
   bool              AnswersDroppedSignal(ulong s)
     {
      if(s == 0 || s > m_droppedInFlightUpTo)
         return false;
      if(s == m_droppedInFlightUpTo)
         m_droppedInFlightUpTo = 0;
      return true;
     }

   int               InFlight(void) const
     {
      int n = 0;
      for(int i = 0; i < m_store.OutboxSlots(); i++)
        {
         ulong s = m_store.OutboxSequence(i);
         if(s != 0 && s <= m_busy.sentUpTo)
            n++;
        }
      return n;
     }

   void              OnBusyAction(int action, long delayMs, long nowMs)
     {
      if(action == SP_BUSY_RESEND_AFTER)
         m_resendAtMs = nowMs + delayMs;
     }

   /** The outbox's unsent frames, in order, as far as the BUSY window and the pacing allow. */
   void              SendPending(long nowMs)
     {
      if(!m_welcomed || m_stopped)
         return;
      if(m_busy.Refused())
        {
         if(m_resendAtMs == 0 || nowMs < m_resendAtMs)
            return;
         m_resendAtMs = 0;
         m_busy.Resume();
        }
      if(m_store.needsSnapshot && m_signer.Version() == 2)
        {
         if(nowMs >= m_snapshotRetryAtMs)
            SendSnapshot(nowMs);
         if(m_store.needsSnapshot)
            return;
        }
      int inFlight = InFlight();
      for(int i = 0; i < m_store.OutboxSlots(); i++)
        {
         ulong s = m_store.OutboxSequence(i);
         if(s == 0 || s <= m_busy.sentUpTo)
            continue;
         if(!m_busy.MaySend(inFlight))
            return;
         m_store.OutboxFrame(i, m_frame);
         if(!SendPaced(m_frame, nowMs))
            return;
         m_busy.Sent(s);
         inFlight++;
        }
     }

   // ---- publishing ----

   /** Publish every difference between the terminal and the book, while the outbox has room. */
   void              Reconcile(long nowMs)
     {
      m_lastReconcileMs = nowMs;
      if(!m_initialized || m_stopped || !m_store.bound)
         return;
      m_reconciles++;
      // A snapshot is due: it will carry the terminal's positions as they are; no signal before it.
      if(m_store.needsSnapshot && m_signer.Version() == 2)
         return;
      m_terminal.Load();
      for(int guard = 0; guard < SP_OUTBOX_SIGNALS_MAX && !m_store.OutboxFull(); guard++)
        {
         ulong sequence = m_store.lastAssigned + 1;
         if(sequence > (ulong)SP_SEQUENCE_MAX)
           {
            PlatformLog(SP_LOG_ERROR, "SEQUENCE_EXHAUSTED", "the subscription's sequences are used up");
            return;
           }
         if(!m_diff.Next(m_signer.Version(), m_store, m_terminal, m_deals, sequence, m_change))
            return;
         if(!Publish(sequence, nowMs))
            return;
        }
     }

   bool              Publish(ulong sequence, long nowMs)
     {
      m_body.Reset();
      m_body.subscriptionId = m_store.subscriptionId;
      m_body.sequence = sequence;
      m_body.generatedAt = PlatformNowMs();
      m_body.symbol = m_change.slice.symbol;
      m_body.orderType = m_change.orderType;
      m_body.volume = m_change.volume;
      m_body.price = m_change.price;
      m_body.action = m_change.action;
      if(m_change.action != SP_ACTION_NETTING)
        {
         SpParseUlong(m_change.slice.id, m_body.positionId);
         m_body.stopLoss = m_change.stopLoss;
         m_body.takeProfit = m_change.takeProfit;
         m_body.magic = m_change.slice.magic;
        }
      m_signer.SignalFrame(m_body, m_frame);
      if(!m_store.CommitSignal(sequence, m_frame, m_change.op, m_change.slice))
        {
         PlatformLog(SP_LOG_ERROR, "STATE_FILE_WRITE_FAILED", "signal " + SpUlongToDecimal(sequence) + " was not written: retried at the next comparison");
         return false;
        }
      m_signalsPublished++;
      PlatformLog(SP_LOG_DEBUG, "SIGNAL", SpUlongToDecimal(sequence) + " action " + IntegerToString(m_change.action) + " " + m_change.slice.symbol + " position " +
                  m_change.slice.id + " volume " + DoubleToString(m_change.volume, 8));
      SendPending(nowMs);
      return true;
     }

   // ---- snapshots ----

   /**
    * Take the terminal's positions into the book as they are (no signal: the
    * snapshot carries them), keeping the ids of what is still held.
    */
   bool              AbsorbTerminal(ulong sequence)
     {
      m_terminal.Load();
      if(!m_store.BeginBookChanges())
         return false;
      bool ok = true;
      for(int guard = 0; guard < 4 * SP_MASTER_BOOK_MAX && ok; guard++)
        {
         if(!m_diff.Next(m_signer.Version(), m_store, m_terminal, m_deals, sequence, m_change))
            break;
         if(m_change.op == SP_BOOK_DELETE)
            ok = m_store.DeleteSlice(m_change.slice);
         else
           {
            if(m_change.action == SP_ACTION_OPEN && m_store.FindSlice(m_change.slice.id) >= 0)
               m_change.slice.id = SpUlongToDecimal((ulong)SP_SLICE_ID_BASE + sequence + (ulong)guard);
            ok = m_store.PutSlice(m_change.slice);
           }
        }
      if(!ok || !m_store.CommitBookChanges())
        {
         m_store.RollbackBookChanges(m_stateName);
         return false;
        }
      return true;
     }

   void              SendSnapshot(long nowMs)
     {
      ulong sequence = m_store.lastAssigned;
      if(!AbsorbTerminal(sequence))
        {
         PlatformLog(SP_LOG_ERROR, "STATE_FILE_WRITE_FAILED", "the book could not take the terminal's positions for a snapshot");
         ScheduleSnapshotRetry(nowMs);
         return;
        }
      m_snapshot.Clear();
      for(int i = 0; i < m_store.sliceCount; i++)
        {
         int at = m_snapshot.Add();
         if(at < 0)
            break;
         m_snapshot.items[at].positionId = m_store.slices[i].id;
         m_snapshot.items[at].symbol = m_store.slices[i].symbol;
         m_snapshot.items[at].orderType = m_store.slices[i].orderType;
         m_snapshot.items[at].volume = m_store.slices[i].volume;
         m_snapshot.items[at].openPrice = m_store.slices[i].openPrice;
         m_snapshot.items[at].stopLoss = m_store.slices[i].stopLoss;
         m_snapshot.items[at].takeProfit = m_store.slices[i].takeProfit;
         m_snapshot.items[at].magic = m_store.slices[i].magic;
         m_snapshot.items[at].openedSequence = m_store.slices[i].openedSequence <= sequence ? m_store.slices[i].openedSequence : sequence;
        }
      if(!m_signer.SnapshotFrame(m_store.subscriptionId, sequence, PlatformNowMs(), m_snapshot, m_frame))
         return;
      if(!SendPaced(m_frame, nowMs))
         return;
      // The snapshot covers every signal up to its sequence: the outbox is done with.
      ulong inFlight = InFlightMax();
      if(inFlight > m_droppedInFlightUpTo)
         m_droppedInFlightUpTo = inFlight;
      m_store.RemoveOutboxRange(1, (ulong)SP_SEQUENCE_MAX);
      m_busy.Reset();
      m_busy.sentUpTo = sequence;
      m_resendAtMs = 0;
      m_store.SetNeedsSnapshot(false);
      m_snapshotSequence = sequence;
      m_snapshotSentAtMs = nowMs;
      m_snapshotsSent++;
      PlatformLog(SP_LOG_INFO, "SNAPSHOT_SENT", "snapshot of " + IntegerToString(m_snapshot.count) + " positions at " + SpUlongToDecimal(sequence));
     }

   void              ScheduleSnapshotRetry(long nowMs)
     {
      m_snapshotRetryAtMs = nowMs + m_snapshotRetryDelayMs;
      m_snapshotRetryDelayMs = m_snapshotRetryDelayMs * 2 > SP_SNAPSHOT_RETRY_MAX_MS ? SP_SNAPSHOT_RETRY_MAX_MS : m_snapshotRetryDelayMs * 2;
     }

   /** The signal (or snapshot) can never be accepted in order: resynchronize with a snapshot (v2). */
   void              Resync(const string &why, long nowMs)
     {
      if(m_signer.Version() != 2)
        {
         PlatformLog(SP_LOG_ERROR, "V1_CANNOT_RESYNC", why + ": a v1 master cannot send a snapshot; receivers may differ until the positions close");
         return;
        }
      if(!m_store.needsSnapshot)
         PlatformLog(SP_LOG_WARN, "RESYNC", why + ": the outbox is dropped and a snapshot at " + SpUlongToDecimal(m_store.lastAssigned) + " sent instead");
      m_store.SetNeedsSnapshot(true);
     }

   // ---- frames from the server ----

   void              OnWelcome(long nowMs)
     {
      if(m_in.welcome.role != "master")
        {
         PlatformLog(SP_LOG_ERROR, "WRONG_ROLE", "the server welcomed this token as " + m_in.welcome.role + ": use the master token");
         m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "wrong role");
         m_ws.SetRetryDelay(nowMs, SP_RECONNECT_REFUSED_MS);
         return;
        }
      ulong last = m_in.welcome.lastSequence;
      if(!m_store.bound)
        {
         if(!m_store.BindSubscription(m_in.welcome.subscriptionId, last))
           {
            PlatformLog(SP_LOG_ERROR, "STATE_FILE_WRITE_FAILED", "cannot bind the state file");
            m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "state file");
            return;
           }
         // A new state file: what the terminal already holds goes out as a snapshot (receivers apply copyOpenPositions).
         m_terminal.Load();
         if(m_signer.Version() == 2 && (last > 0 || m_terminal.count > 0))
            m_store.SetNeedsSnapshot(true);
         PlatformLog(SP_LOG_INFO, "BOUND", "state file bound to subscription " + m_in.welcome.subscriptionId + " at sequence " + SpUlongToDecimal(last));
        }
      else
         if(m_in.welcome.subscriptionId != m_store.subscriptionId)
           {
            PlatformLog(SP_LOG_ERROR, "STATE_FILE_OF_ANOTHER_SUBSCRIPTION",
                        "the token is for " + m_in.welcome.subscriptionId + ", the state file for " + m_store.subscriptionId + ": set another InstanceName");
            m_stopped = true;
            m_ws.Stop();
            return;
           }
      m_store.RemoveOutboxRange(1, last);
      if(last > m_store.lastAssigned)
        {
         PlatformLog(SP_LOG_WARN, "BEHIND_SERVER", "the server is at " + SpUlongToDecimal(last) + ", the state file at " + SpUlongToDecimal(m_store.lastAssigned));
         m_store.SetLastAssigned(last);
         Resync("the state file is behind the server", nowMs);
        }
      m_serverState = m_in.welcome.state;
      m_bucket.Configure(m_in.welcome.signalsPerSecond, m_in.welcome.signalsBurst, nowMs);
      m_busy.Reset();
      m_busy.sentUpTo = last;
      m_resendAtMs = 0;
      m_welcomed = true;
      m_ws.MarkHealthy();
      m_lastHeartbeatMs = nowMs;
      PlatformLog(SP_LOG_INFO, "WELCOME", "subscription " + m_in.welcome.subscriptionId + " " + SpStateName(m_in.welcome.state) + " at " + SpUlongToDecimal(last) + "; " +
                  IntegerToString(m_store.OutboxSize()) + " frames to resend; pacing " + DoubleToString(m_bucket.PerSecond(), 0) + "/s burst " +
                  DoubleToString(m_bucket.Burst(), 0));
      Reconcile(nowMs);
      SendPending(nowMs);
     }

   void              OnAck(long nowMs)
     {
      ulong s = m_in.ack.sequence;
      m_acks++;
      if(AnswersDroppedSignal(s))
         return;
      m_store.RemoveOutboxRange(s, s);
      long delay = 0;
      OnBusyAction(m_busy.Answered(s, true, SP_OUTBOX_SIGNALS_MAX, delay), delay, nowMs);
      if(s > m_snapshotSequence)
         m_snapshotSentAtMs = 0;
     }

   void              OnReject(long nowMs)
     {
      int code = m_in.reject.code;
      ulong s = m_in.reject.sequence;
      string what = SpRejectName(code) + " for " + SpUlongToDecimal(s) + ": " + m_in.reject.message;
      bool inOutbox = s != 0 && m_store.OutboxHas(s);
      if((code == SP_REJECT_BUSY || code == SP_REJECT_RATE_LIMITED) && inOutbox)
        {
         long delay = 0;
         OnBusyAction(m_busy.Busy(s, InFlight(), delay), delay, nowMs);
         PlatformLog(SP_LOG_DEBUG, "REFUSED_FOR_NOW", what);
         return;
        }
      if(!inOutbox && AnswersDroppedSignal(s))
        {
         PlatformLog(SP_LOG_DEBUG, "REJECT_IGNORED", what + " (a signal the snapshot replaced)");
         return;
        }
      bool snapshotAnswer = !inOutbox && m_snapshotSentAtMs > 0 && nowMs - m_snapshotSentAtMs < SP_SNAPSHOT_ANSWER_WINDOW_MS &&
                            (s == m_snapshotSequence || s == 0);
      if(snapshotAnswer)
        {
         m_snapshotSentAtMs = 0;
         if(code == SP_REJECT_BUSY || code == SP_REJECT_RATE_LIMITED)
           {
            m_store.SetNeedsSnapshot(true);
            m_snapshotRetryAtMs = nowMs + SP_BUSY_RESEND_DELAY_MAX_MS;
            return;
           }
         PlatformLog(SP_LOG_ERROR, "SNAPSHOT_REFUSED", what);
         m_store.SetNeedsSnapshot(true);
         ScheduleSnapshotRetry(nowMs);
         if(code == SP_REJECT_REPLAY)
           {
            // The server is beyond our sequence: a new Welcome says how far.
            m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "resynchronize");
           }
         return;
        }
      if(!inOutbox)
        {
         PlatformLog(SP_LOG_DEBUG, "REJECT_IGNORED", what);
         return;
        }
      m_store.RemoveOutboxRange(s, s);
      long delayMs = 0;
      OnBusyAction(m_busy.Answered(s, false, SP_OUTBOX_SIGNALS_MAX, delayMs), delayMs, nowMs);
      if(code == SP_REJECT_SIGNATURE_INVALID || code == SP_REJECT_UNKNOWN_KEY || code == SP_REJECT_WRONG_SUBSCRIPTION)
         PlatformLog(SP_LOG_ERROR, "KEY_REFUSED", what + " (check KeyId and MacSecret)");
      else
         PlatformLog(SP_LOG_WARN, "SIGNAL_REFUSED", what);
      if(code == SP_REJECT_ISOLATED)
         return;
      Resync(SpRejectName(code) + " for " + SpUlongToDecimal(s), nowMs);
      m_snapshotRetryAtMs = nowMs;
     }

   void              OnSyncRequest(long nowMs)
     {
      if(m_in.syncRequest.full)
        {
         Resync("the server asked for a full snapshot", nowMs);
         m_snapshotRetryAtMs = nowMs;
         return;
        }
      ulong from = m_in.syncRequest.fromSequence < 1 ? 1 : m_in.syncRequest.fromSequence;
      ulong to = m_in.syncRequest.toSequence;
      if(to == 0 || to < from)
         to = m_store.OutboxHighest();
      bool whole = to >= from && to - from < (ulong)SP_OUTBOX_SIGNALS_MAX;
      for(ulong s = from; s <= to && whole; s++)
         if(!m_store.OutboxHas(s))
            whole = false;
      if(!whole)
        {
         Resync("sync request " + SpUlongToDecimal(from) + ".." + SpUlongToDecimal(to) + " is no longer in the outbox", nowMs);
         m_snapshotRetryAtMs = nowMs;
         return;
        }
      // Send again from `from` on, in order (frames after `to` are answered DUPLICATE or held: harmless).
      if(m_busy.sentUpTo >= from)
         m_busy.sentUpTo = from - 1;
     }

   void              OnStateChange(long nowMs)
     {
      m_serverState = m_in.stateChange.state;
      PlatformLog(m_serverState == SP_STATE_ACTIVE ? SP_LOG_INFO : SP_LOG_WARN, "STATE",
                  SpStateName(m_serverState) + " at " + SpUlongToDecimal(m_in.stateChange.sequence) + ": " + m_in.stateChange.reason);
      if(m_serverState == SP_STATE_ACTIVE)
         m_store.RemoveOutboxRange(1, m_in.stateChange.sequence);
     }

   void              OnMessage(long nowMs)
     {
      int kind = m_in.Decode(m_message, 0, m_message.Size());
      switch(kind)
        {
         case SP_FRAME_WELCOME: OnWelcome(nowMs); break;
         case SP_FRAME_ACK: OnAck(nowMs); break;
         case SP_FRAME_REJECT: OnReject(nowMs); break;
         case SP_FRAME_SYNC_REQUEST: OnSyncRequest(nowMs); break;
         case SP_FRAME_STATE_CHANGE: OnStateChange(nowMs); break;
         case SP_FRAME_HEARTBEAT: break;
         case 0:
            PlatformLog(SP_LOG_ERROR, "PROTOCOL", "a frame that does not decode");
            m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad frame");
            break;
         default:
            PlatformLog(SP_LOG_WARN, "PROTOCOL", "unexpected frame " + IntegerToString(kind) + " on a master connection");
        }
     }

   void              OnClosed(long nowMs)
     {
      m_welcomed = false;
      int code = m_ws.CloseCode();
      int status = m_ws.RefusedStatus();
      long delay = 0;
      if(code == SP_CLOSE_UPGRADE_REFUSED && (status == 401 || status == 403))
         delay = SP_RECONNECT_REFUSED_MS;
      else
         if(code == SP_CLOSE_UPGRADE_REFUSED && status == 429)
            delay = m_ws.RetryAfterSeconds() > 0 ? (long)m_ws.RetryAfterSeconds() * 1000 : SP_RECONNECT_RATE_LIMITED_MS;
         else
            if(code == 4003 || code == 4004 || code == 4005 || code == 4006)
               delay = SP_RECONNECT_REFUSED_MS;
            else
               if(code == 4029)
                  delay = SP_RECONNECT_RATE_LIMITED_MS;
      if(delay > 0)
         m_ws.SetRetryDelay(nowMs, delay);
      PlatformLog(delay > 0 ? SP_LOG_ERROR : SP_LOG_WARN, "DISCONNECTED",
                  "code " + IntegerToString(code) + " " + m_ws.CloseReason() + "; next attempt in " + IntegerToString(m_ws.NextConnectAtMs() - nowMs) + " ms");
     }

   void              Pump(long nowMs)
     {
      if(!m_initialized || m_stopped)
         return;
      for(int i = 0; i < SP_EVENTS_PER_POLL_MAX; i++)
        {
         int event = m_ws.Poll(nowMs, m_message);
         if(event == SP_WS_EVENT_NONE)
            break;
         if(event == SP_WS_EVENT_OPEN)
           {
            m_welcomed = false;
            m_openedAtMs = nowMs;
            m_droppedInFlightUpTo = 0;
           }
         else
            if(event == SP_WS_EVENT_MESSAGE)
               OnMessage(nowMs);
            else
               if(event == SP_WS_EVENT_CLOSED)
                  OnClosed(nowMs);
         if(m_stopped)
            return;
        }
      if(m_ws.IsOpen() && !m_welcomed && nowMs - m_openedAtMs > SP_WELCOME_TIMEOUT_MS)
        {
         m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "no welcome");
         OnClosed(nowMs);
         return;
        }
      if(!m_welcomed)
         return;
      SendPending(nowMs);
      if(nowMs - m_lastHeartbeatMs >= SP_HEARTBEAT_INTERVAL_MS)
        {
         m_encoder.Heartbeat(PlatformNowMs(), m_frame);
         if(SendPaced(m_frame, nowMs))
            m_lastHeartbeatMs = nowMs;
        }
     }

public:
                     SigplaneMasterEa(void)
     {
      m_initialized = false;
      m_welcomed = false;
      m_stopped = false;
      m_openedAtMs = 0;
      m_lastHeartbeatMs = 0;
      m_lastReconcileMs = 0;
      m_resendAtMs = 0;
      m_snapshotRetryAtMs = 0;
      m_snapshotRetryDelayMs = SP_SNAPSHOT_RETRY_MIN_MS;
      m_snapshotSequence = 0;
      m_snapshotSentAtMs = 0;
      m_droppedInFlightUpTo = 0;
      m_serverState = 0;
      m_signalsPublished = 0;
      m_acks = 0;
      m_snapshotsSent = 0;
      m_framesSent = 0;
      m_reconciles = 0;
      m_message.Reserve(SP_MASTER_INBOUND_BYTES_MAX);
      m_frame.Reserve(4096);
     }

   /** "" when the EA runs, else why not (OnInit answers INIT_PARAMETERS_INCORRECT). */
   string            Init(const SpMasterConfig &config)
     {
      string problem = m_signer.Configure(config.signingVersion, config.keyId, config.macSecret);
      if(problem != "")
         return problem;
      problem = m_ws.Configure(config.serverUrl, "/v1/master", config.token, config.pinnedThumbprint, SP_MASTER_INBOUND_BYTES_MAX);
      if(problem != "")
         return problem;
      if(config.instance != "" && !SpMatchesCharset(config.instance, "_-", 1, 32))
         return "INSTANCE_NAME_INVALID: 1..32 letters, digits, _ or -";
      m_stateName = "sigplane-master-" + IntegerToString(PlatformAccountLogin()) + (config.instance == "" ? "" : "-" + config.instance) + ".sqlite";
      problem = m_store.Open(m_stateName);
      if(problem != "")
         return problem;
      m_initialized = true;
      PlatformLog(SP_LOG_INFO, "STARTED", "state " + m_stateName + ": " + IntegerToString(m_store.OutboxSize()) + " frames not acked, " +
                  IntegerToString(m_store.sliceCount) + " positions published, last sequence " + SpUlongToDecimal(m_store.lastAssigned));
      return "";
     }

   void              Deinit(void)
     {
      if(!m_initialized)
         return;
      m_ws.Stop();
      m_store.Close();
      m_initialized = false;
     }

   void              OnTimer(void)
     {
      long nowMs = PlatformMonotonicMs();
      if(m_initialized && nowMs - m_lastReconcileMs >= SP_RECONCILE_INTERVAL_MS)
         Reconcile(nowMs);
      Pump(nowMs);
     }

   void              OnTick(void) { Pump(PlatformMonotonicMs()); }

   /** A trade transaction: remember a deal's price, then publish what changed. */
   void              OnTradeTransaction(int type, ulong position, double price)
     {
      if(type == TRADE_TRANSACTION_DEAL_ADD)
         m_deals.Remember(position, price);
      if(type == TRADE_TRANSACTION_DEAL_ADD || type == TRADE_TRANSACTION_POSITION || type == TRADE_TRANSACTION_HISTORY_ADD)
        {
         long nowMs = PlatformMonotonicMs();
         Reconcile(nowMs);
         Pump(nowMs);
        }
     }

   // ---- status ----
   bool              Welcomed(void) const { return m_welcomed; }
   bool              Stopped(void) const { return m_stopped; }
   ulong             LastAssigned(void) const { return m_store.lastAssigned; }
   int               OutboxSize(void) const { return m_store.OutboxSize(); }
   bool              NeedsSnapshot(void) const { return m_store.needsSnapshot; }
   int               PublishedPositions(void) const { return m_store.sliceCount; }
   int               ServerState(void) const { return m_serverState; }
   long              SignalsPublished(void) const { return m_signalsPublished; }
   long              Acks(void) const { return m_acks; }
   long              SnapshotsSent(void) const { return m_snapshotsSent; }
   long              FramesSent(void) const { return m_framesSent; }
   /** Comparisons of the terminal with the book since the start. */
   long              Reconciles(void) const { return m_reconciles; }
   string            SubscriptionId(void) const { return m_store.subscriptionId; }
  };

#endif
