// The Receiver EA: copies a subscription onto this account.
// SigplaneReceiver.mq5 forwards its event handlers here.
//
// On every connection: Subscribe with the last sequence the position map
// applied (none on a new map: the server's cursor for the license), then
// the license's ReceiverSettings (checked as the TypeScript client checks
// them; nothing executes without them), the Welcome (every execution
// report not acked yet goes again: the same key is the same row), and
// deliveries or a snapshot, in order:
//
//   Delivery            ordered by ReceiverSequencer.mqh: the next one is
//                       applied (Copier.mqh), written, acked (DeliveryAck,
//                       by ReceiverAcks.mqh's policy: at once while its
//                       budget lasts, else held for the timer), and its
//                       reports sent; a duplicate is ignored; a gap asks for
//                       the missing range (repeated every SP_GAP_RETRY_MS
//                       while it stays open)
//   Snapshot            reconciled (Copier.mqh), written, then acked at once
//   ExecutionReportAck  the report is forgotten (memory and file)
//   Reject              REPORT_INVALID / REPORT_NOT_DELIVERED: the reports
//                       of that sequence are forgotten; BUSY or
//                       RATE_LIMITED: sent again SP_REPORT_BUSY_RETRY_MS later
//   StateChange         logged (DEGRADED / SYNCING: the server holds new
//                       deliveries back until it is whole; ISOLATED: it
//                       closes the connection)
// A delivery whose apply fails half way is not acked: the connection is
// dropped and the reconnect delivers it again.
//
// Apply, write, ack: an ack (sent or held) is only ever of a sequence the
// position map has written. A held ack goes from the timer (OnTimer) when
// the budget has a token again, and at once at deinit; one still held when
// the connection ends (or the process dies) is lost work only: the next
// Subscribe states the last sequence written.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_RECEIVER_EA_MQH
#define SIGPLANE_RECEIVER_EA_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Frames.mqh>
#include <Sigplane/WsClient.mqh>
#include <Sigplane/ReceiverSequencer.mqh>
#include <Sigplane/ReceiverAcks.mqh>
#include <Sigplane/ExecutionReports.mqh>
#include <Sigplane/Copier.mqh>

#define SP_RECEIVER_EVENTS_PER_POLL_MAX 256

class SpReceiverConfig
  {
public:
   string            serverUrl;
   string            token;
   string            instance;
   string            pinnedThumbprint;
                     SpReceiverConfig(void) { serverUrl = ""; token = ""; instance = ""; pinnedThumbprint = ""; }
  };

class SigplaneReceiverEa
  {
private:
   SpWsClient        m_ws;
   SpInbound         m_in;
   SpFrameEncoder    m_encoder;
   SpReceiverSequencer m_sequencer;
   SpReceiverAcks    m_acks;
   SpCopier          m_copier;
   SpExecutionReport m_report;
   ByteBuffer        m_message;
   ByteBuffer        m_frame;
   bool              m_initialized;
   bool              m_welcomed;
   bool              m_subscribed;
   long              m_openedAtMs;
   long              m_lastHeartbeatMs;
   long              m_reportRetryAtMs;
   ulong             m_reportRetrySequence;
   int               m_serverState;
   long              m_deliveries;
   long              m_snapshots;
   long              m_failures;
   long              m_reportsRefused;

   bool              Send(const ByteBuffer &frame)
     {
      return m_ws.IsOpen() && m_ws.SendBinary(frame);
     }

   /** Send one report (checked first: one the server would refuse for good is forgotten now). */
   void              SendReport(const SpExecutionReport &r)
     {
      string problem = SpCheckExecutionReport(r, PlatformNowMs());
      if(problem != "")
        {
         m_reportsRefused++;
         PlatformLog(SP_LOG_ERROR, "REPORT_INVALID", SpReportKey(r.sequence, r.masterPositionId, r.kind) + ": " + problem);
         m_copier.ForgetReport(r.sequence, r.masterPositionId, r.kind);
         return;
        }
      m_encoder.ExecutionReport(r, m_frame);
      Send(m_frame);
     }

   void              SendOutgoing(void)
     {
      if(m_welcomed)
         for(int i = 0; i < m_copier.outgoing.count; i++)
            SendReport(m_copier.outgoing.items[i]);
      m_copier.outgoing.Clear();
     }

   /** Every report not acked (after a Welcome), or those of one sequence (after BUSY). */
   void              ResendReports(bool all, ulong sequence)
     {
      for(int i = m_copier.UnackedCount() - 1; i >= 0; i--)
        {
         if(!all && m_copier.UnackedSequence(i) != sequence)
            continue;
         m_copier.UnackedReport(i, m_report);
         SendReport(m_report);
        }
     }

   /** Send the ack m_acks holds (nothing is held after, sent or not). */
   void              SendAck(void)
     {
      m_encoder.DeliveryAck(m_acks.Pending(), m_frame);
      m_acks.Done(Send(m_frame));
     }

   /** `sequence` was applied and written: acked now, or held (`now`: a snapshot, acked at once). */
   void              Ack(ulong sequence, bool now, long nowMs)
     {
      if(m_acks.Executed(sequence, now, nowMs))
         SendAck();
     }

   void              OnOpen(long nowMs)
     {
      m_welcomed = false;
      m_openedAtMs = nowMs;
      m_acks.Forget();
      m_sequencer.Reset(m_copier.HasLast(), m_copier.LastSequence());
      m_sequencer.OnReconnect();
      m_encoder.Subscribe(m_copier.HasLast(), m_copier.LastSequence(), m_frame);
      m_subscribed = Send(m_frame);
     }

   void              OnSettings(long nowMs)
     {
      if(!m_in.settings.hasSettings)
        {
         PlatformLog(SP_LOG_ERROR, "SETTINGS_INVALID", "receiver settings without settings");
         m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad settings");
         return;
        }
      string problem = SpResolveCopySettings(m_in.settings.settings);
      if(problem != "")
        {
         PlatformLog(SP_LOG_ERROR, "SETTINGS_INVALID", problem);
         m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad settings");
         return;
        }
      if(m_copier.HasSettings() && m_in.settings.revision < m_copier.Revision())
         return;
      bool changed = !m_copier.HasSettings() || m_in.settings.revision != m_copier.Revision();
      m_copier.OnSettings(m_in.settings.settings, m_in.settings.revision);
      if(changed)
         PlatformLog(SP_LOG_INFO, "SETTINGS", "copy settings revision " + SpUlongToDecimal(m_in.settings.revision));
     }

   void              OnWelcome(long nowMs)
     {
      if(m_in.welcome.role != "receiver")
        {
         PlatformLog(SP_LOG_ERROR, "WRONG_ROLE", "the server welcomed this token as " + m_in.welcome.role + ": use a receiver license token");
         m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "wrong role");
         m_ws.SetRetryDelay(nowMs, SP_RECONNECT_REFUSED_MS);
         return;
        }
      m_welcomed = true;
      m_serverState = m_in.welcome.state;
      m_ws.MarkHealthy();
      m_lastHeartbeatMs = nowMs;
      PlatformLog(SP_LOG_INFO, "WELCOME", "subscription " + m_in.welcome.subscriptionId + " " + SpStateName(m_in.welcome.state) + " at " +
                  SpUlongToDecimal(m_in.welcome.lastSequence) + "; resuming after " +
                  (m_copier.HasLast() ? SpUlongToDecimal(m_copier.LastSequence()) : "the server's cursor") + "; " +
                  IntegerToString(m_copier.UnackedCount()) + " reports to resend");
      ResendReports(true, 0);
     }

   void              OnDelivery(long nowMs)
     {
      if(!m_in.delivery.hasSignal)
        {
         PlatformLog(SP_LOG_ERROR, "PROTOCOL", "delivery without a signal");
         m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad delivery");
         return;
        }
      ulong sequence = m_in.delivery.sequence;
      ulong syncFrom = 0;
      int decision = m_sequencer.OnDelivery(sequence, nowMs, syncFrom);
      if(decision == SP_SEQ_DUPLICATE || decision == SP_SEQ_OUT_OF_ORDER)
         return;
      if(decision == SP_SEQ_GAP)
        {
         PlatformLog(SP_LOG_WARN, "GAP", "got " + SpUlongToDecimal(sequence) + ", asking from " + SpUlongToDecimal(syncFrom));
         m_encoder.SyncRequest(syncFrom, 0, false, m_frame);
         Send(m_frame);
         return;
        }
      if(!m_copier.ApplyDelivery(m_in.delivery))
        {
         m_failures++;
         SendOutgoing();
         m_ws.Drop(nowMs, SP_CLOSE_GOING_AWAY, "apply failed");
         OnClosed(nowMs);
         return;
        }
      m_deliveries++;
      m_sequencer.Executed(sequence, nowMs);
      Ack(sequence, false, nowMs);
      SendOutgoing();
     }

   void              OnSnapshot(long nowMs)
     {
      ulong sequence = m_in.snapshot.sequence;
      if(m_in.snapshot.positions.overflow)
        {
         PlatformLog(SP_LOG_ERROR, "PROTOCOL", "snapshot over " + IntegerToString(SP_SNAPSHOT_POSITIONS_MAX) + " positions");
         m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad snapshot");
         return;
        }
      if(m_sequencer.OnSnapshot(sequence) == SP_SEQ_STALE)
         return;
      if(!m_copier.ApplySnapshot(m_in.snapshot))
        {
         m_failures++;
         SendOutgoing();
         m_ws.Drop(nowMs, SP_CLOSE_GOING_AWAY, "apply failed");
         OnClosed(nowMs);
         return;
        }
      m_snapshots++;
      m_sequencer.SnapshotApplied(sequence, nowMs);
      PlatformLog(SP_LOG_INFO, "SNAPSHOT_APPLIED", "snapshot at " + SpUlongToDecimal(sequence) + " with " + IntegerToString(m_in.snapshot.positions.count) + " positions");
      Ack(sequence, true, nowMs);
      SendOutgoing();
     }

   void              OnReject(long nowMs)
     {
      int code = m_in.reject.code;
      ulong s = m_in.reject.sequence;
      PlatformLog(SP_LOG_WARN, "REJECT", SpRejectName(code) + " for " + SpUlongToDecimal(s) + ": " + m_in.reject.message);
      if(code == SP_REJECT_REPORT_INVALID || code == SP_REJECT_REPORT_NOT_DELIVERED)
         m_reportsRefused += m_copier.ForgetReportsOf(s);
      else
         if((code == SP_REJECT_BUSY || code == SP_REJECT_RATE_LIMITED) && s > 0)
           {
            m_reportRetrySequence = s;
            m_reportRetryAtMs = nowMs + SP_REPORT_BUSY_RETRY_MS;
           }
     }

   void              OnMessage(long nowMs)
     {
      int kind = m_in.Decode(m_message, 0, m_message.Size());
      switch(kind)
        {
         case SP_FRAME_RECEIVER_SETTINGS: OnSettings(nowMs); break;
         case SP_FRAME_WELCOME: OnWelcome(nowMs); break;
         case SP_FRAME_DELIVERY: OnDelivery(nowMs); break;
         case SP_FRAME_SNAPSHOT: OnSnapshot(nowMs); break;
         case SP_FRAME_EXECUTION_REPORT_ACK:
            m_copier.ForgetReport(m_in.executionReportAck.sequence, m_in.executionReportAck.masterPositionId, m_in.executionReportAck.kind);
            break;
         case SP_FRAME_REJECT: OnReject(nowMs); break;
         case SP_FRAME_STATE_CHANGE:
            m_serverState = m_in.stateChange.state;
            PlatformLog(m_serverState == SP_STATE_ACTIVE ? SP_LOG_INFO : SP_LOG_WARN, "STATE",
                        SpStateName(m_serverState) + " at " + SpUlongToDecimal(m_in.stateChange.sequence) + ": " + m_in.stateChange.reason);
            break;
         case SP_FRAME_HEARTBEAT: break;
         case 0:
            PlatformLog(SP_LOG_ERROR, "PROTOCOL", "a frame that does not decode");
            m_ws.Drop(nowMs, SP_CLOSE_PROTOCOL_ERROR, "bad frame");
            OnClosed(nowMs);
            break;
         default:
            PlatformLog(SP_LOG_WARN, "PROTOCOL", "unexpected frame " + IntegerToString(kind) + " on a receiver connection");
        }
     }

   void              OnClosed(long nowMs)
     {
      m_welcomed = false;
      m_subscribed = false;
      m_acks.Forget();
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
      if(!m_initialized)
         return;
      for(int i = 0; i < SP_RECEIVER_EVENTS_PER_POLL_MAX; i++)
        {
         int event = m_ws.Poll(nowMs, m_message);
         if(event == SP_WS_EVENT_NONE)
            break;
         if(event == SP_WS_EVENT_OPEN)
            OnOpen(nowMs);
         else
            if(event == SP_WS_EVENT_MESSAGE)
               OnMessage(nowMs);
            else
               if(event == SP_WS_EVENT_CLOSED)
                  OnClosed(nowMs);
        }
      if(m_ws.IsOpen() && !m_welcomed && nowMs - m_openedAtMs > SP_WELCOME_TIMEOUT_MS)
        {
         m_ws.Drop(nowMs, SP_CLOSE_NORMAL, "no welcome");
         OnClosed(nowMs);
         return;
        }
      if(!m_welcomed)
         return;
      // A held ack whose token has come (after this poll's deliveries: one ack stands for them too).
      if(m_acks.Due(nowMs))
         SendAck();
      ulong syncFrom = 0;
      if(m_sequencer.Tick(nowMs, syncFrom))
        {
         m_encoder.SyncRequest(syncFrom, 0, false, m_frame);
         Send(m_frame);
        }
      if(m_reportRetryAtMs > 0 && nowMs >= m_reportRetryAtMs)
        {
         m_reportRetryAtMs = 0;
         ResendReports(false, m_reportRetrySequence);
        }
      if(nowMs - m_lastHeartbeatMs >= SP_HEARTBEAT_INTERVAL_MS)
        {
         m_encoder.Heartbeat(PlatformNowMs(), m_frame);
         if(Send(m_frame))
            m_lastHeartbeatMs = nowMs;
        }
     }

public:
                     SigplaneReceiverEa(void)
     {
      m_initialized = false;
      m_welcomed = false;
      m_subscribed = false;
      m_openedAtMs = 0;
      m_lastHeartbeatMs = 0;
      m_reportRetryAtMs = 0;
      m_reportRetrySequence = 0;
      m_serverState = 0;
      m_deliveries = 0;
      m_snapshots = 0;
      m_failures = 0;
      m_reportsRefused = 0;
      m_message.Reserve(SP_RECEIVER_INBOUND_BYTES_MAX);
      m_frame.Reserve(SP_RECEIVER_FRAME_BYTES_MAX);
     }

   string            Init(const SpReceiverConfig &config)
     {
      // On a netting account every copy of a symbol would merge into the symbol's one position: neither the
      // volume of each copy nor its stops could be kept apart, and the copier's keys (order comments) would be lost.
      if(!PlatformAccountIsHedging())
         return "NETTING_ACCOUNT_UNSUPPORTED: the Receiver EA copies onto hedging accounts";
      string problem = m_ws.Configure(config.serverUrl, "/v1/receiver", config.token, config.pinnedThumbprint, SP_RECEIVER_INBOUND_BYTES_MAX);
      if(problem != "")
         return problem;
      if(config.instance != "" && !SpMatchesCharset(config.instance, "_-", 1, 32))
         return "INSTANCE_NAME_INVALID: 1..32 letters, digits, _ or -";
      string name = "sigplane-receiver-" + IntegerToString(PlatformAccountLogin()) + (config.instance == "" ? "" : "-" + config.instance) + ".sqlite";
      problem = m_copier.Open(name);
      if(problem != "")
         return problem;
      m_sequencer.Reset(m_copier.HasLast(), m_copier.LastSequence());
      m_acks.Start(PlatformMonotonicMs());
      m_initialized = true;
      PlatformLog(SP_LOG_INFO, "STARTED", "state " + name + ": " + IntegerToString(m_copier.Copies()) + " copies, last sequence " +
                  (m_copier.HasLast() ? SpUlongToDecimal(m_copier.LastSequence()) : "none") + ", " + IntegerToString(m_copier.UnackedCount()) +
                  " reports not acked");
      return "";
     }

   void              Deinit(void)
     {
      if(!m_initialized)
         return;
      // What was executed (and written) and not acked yet goes before the close frame.
      if(m_acks.Holding())
         SendAck();
      m_ws.Stop();
      m_copier.Close();
      m_initialized = false;
     }

   void              OnTimer(void) { Pump(PlatformMonotonicMs()); }
   void              OnTick(void) { Pump(PlatformMonotonicMs()); }

   // ---- status ----
   bool              Welcomed(void) const { return m_welcomed; }
   bool              HasLastSequence(void) const { return m_copier.HasLast(); }
   ulong             LastSequence(void) const { return m_copier.LastSequence(); }
   int               Copies(void) const { return m_copier.Copies(); }
   int               UnackedReports(void) const { return m_copier.UnackedCount(); }
   ulong             SettingsRevision(void) const { return m_copier.Revision(); }
   long              DeliveriesApplied(void) const { return m_deliveries; }
   long              AcksSent(void) const { return m_acks.Sent(); }
   long              SnapshotsApplied(void) const { return m_snapshots; }
   long              ApplyFailures(void) const { return m_failures; }
   int               ServerState(void) const { return m_serverState; }
  };

#endif
