// The sigplane frames the two EAs exchange, encoded and decoded by hand
// over ProtoWire.mqh. proto/sigplane.proto is the one source of truth: every
// field number used here is a named constant below, and SpProtoFieldTable()
// lists them with their proto types; test/metatrader/proto-fields.test.ts
// compares that table with the .proto and fails when a field the EAs use
// changes.
//
// Decoding fills preallocated message objects (SpInbound): a frame decodes
// without allocating beyond what its strings need.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_FRAMES_MQH
#define SIGPLANE_FRAMES_MQH

#include <Sigplane/Limits.mqh>
#include <Sigplane/ProtoWire.mqh>
#include <Sigplane/CopySettings.mqh>

// ---- field numbers (proto/sigplane.proto) ----
// Frame (oneof kind)
#define SP_FRAME_SIGNAL_V1 1
#define SP_FRAME_SIGNAL_V2 2
#define SP_FRAME_SNAPSHOT_FROM_MASTER 3
#define SP_FRAME_ACK 4
#define SP_FRAME_REJECT 5
#define SP_FRAME_SYNC_REQUEST 6
#define SP_FRAME_SUBSCRIBE 7
#define SP_FRAME_DELIVERY 8
#define SP_FRAME_DELIVERY_ACK 9
#define SP_FRAME_SNAPSHOT 10
#define SP_FRAME_STATE_CHANGE 11
#define SP_FRAME_HEARTBEAT 12
#define SP_FRAME_WELCOME 13
#define SP_FRAME_RECEIVER_SETTINGS 14
#define SP_FRAME_EXECUTION_REPORT 15
#define SP_FRAME_EXECUTION_REPORT_ACK 16
// SignalV1
#define SP_F_V1_SUBSCRIPTION_ID 1
#define SP_F_V1_SEQUENCE_NUMBER 2
#define SP_F_V1_GENERATED_AT 3
#define SP_F_V1_SYMBOL 4
#define SP_F_V1_ORDER_TYPE 5
#define SP_F_V1_VOLUME 6
#define SP_F_V1_PRICE 7
#define SP_F_V1_SIGNATURE 8
// SignalBody
#define SP_F_BODY_SUBSCRIPTION_ID 1
#define SP_F_BODY_SEQUENCE_NUMBER 2
#define SP_F_BODY_GENERATED_AT 3
#define SP_F_BODY_SYMBOL 4
#define SP_F_BODY_ORDER_TYPE 5
#define SP_F_BODY_VOLUME 6
#define SP_F_BODY_PRICE 7
#define SP_F_BODY_ACTION 8
#define SP_F_BODY_POSITION_ID 9
#define SP_F_BODY_STOP_LOSS 10
#define SP_F_BODY_TAKE_PROFIT 11
#define SP_F_BODY_MAGIC 12
// Signed
#define SP_F_SIGNED_BODY 1
#define SP_F_SIGNED_KEY_ID 2
#define SP_F_SIGNED_MAC 3
// Position
#define SP_F_POS_POSITION_ID 1
#define SP_F_POS_SYMBOL 2
#define SP_F_POS_ORDER_TYPE 3
#define SP_F_POS_VOLUME 4
#define SP_F_POS_OPEN_PRICE 5
#define SP_F_POS_STOP_LOSS 6
#define SP_F_POS_TAKE_PROFIT 7
#define SP_F_POS_MAGIC 8
#define SP_F_POS_OPENED_SEQUENCE 9
// SnapshotBody
#define SP_F_SNAPBODY_SUBSCRIPTION_ID 1
#define SP_F_SNAPBODY_SEQUENCE_NUMBER 2
#define SP_F_SNAPBODY_GENERATED_AT 3
#define SP_F_SNAPBODY_POSITIONS 4
// Ack
#define SP_F_ACK_SEQUENCE_NUMBER 1
#define SP_F_ACK_STATUS 2
// Reject
#define SP_F_REJECT_CODE 1
#define SP_F_REJECT_MESSAGE 2
#define SP_F_REJECT_SEQUENCE_NUMBER 3
// SyncRequest
#define SP_F_SYNC_FROM_SEQUENCE 1
#define SP_F_SYNC_TO_SEQUENCE 2
#define SP_F_SYNC_FULL 3
// Subscribe
#define SP_F_SUB_HAS_LAST_SEQUENCE 1
#define SP_F_SUB_LAST_SEQUENCE 2
// Delivery
#define SP_F_DEL_SUBSCRIPTION_ID 1
#define SP_F_DEL_SEQUENCE_NUMBER 2
#define SP_F_DEL_SIGNAL 3
#define SP_F_DEL_SIGNING_VERSION 4
#define SP_F_DEL_ACCEPTED_AT 5
// DeliveryAck
#define SP_F_DACK_SEQUENCE_NUMBER 1
// Snapshot
#define SP_F_SNAP_SUBSCRIPTION_ID 1
#define SP_F_SNAP_SEQUENCE_NUMBER 2
#define SP_F_SNAP_POSITIONS 3
// StateChange
#define SP_F_STATE_STATE 1
#define SP_F_STATE_SEQUENCE_NUMBER 2
#define SP_F_STATE_REASON 3
// Heartbeat
#define SP_F_HEARTBEAT_SENT_AT 1
// Welcome
#define SP_F_WELCOME_SUBSCRIPTION_ID 1
#define SP_F_WELCOME_STATE 2
#define SP_F_WELCOME_LAST_SEQUENCE 3
#define SP_F_WELCOME_ROLE 4
#define SP_F_WELCOME_SIGNALS_PER_SECOND 5
#define SP_F_WELCOME_SIGNALS_BURST 6
// CopySettings
#define SP_F_CS_SYMBOL_PREFIX 1
#define SP_F_CS_SYMBOL_SUFFIX 2
#define SP_F_CS_SYMBOL_MAP 3
#define SP_F_CS_LOT_MODE 4
#define SP_F_CS_LOT_VALUE 5
#define SP_F_CS_MASTER_EQUITY 6
#define SP_F_CS_LOT_MIN 7
#define SP_F_CS_LOT_MAX 8
#define SP_F_CS_REVERSE 9
#define SP_F_CS_COPY_STOP_LOSS 10
#define SP_F_CS_COPY_TAKE_PROFIT 11
#define SP_F_CS_SYMBOLS_ALLOWED 12
#define SP_F_CS_SYMBOLS_BLOCKED 13
#define SP_F_CS_MAGICS_ALLOWED 14
#define SP_F_CS_MAGICS_BLOCKED 15
#define SP_F_CS_PRICE_DEVIATION_PIPS_MAX 16
#define SP_F_CS_SIGNAL_AGE_MS_MAX 17
#define SP_F_CS_COPY_OPEN_POSITIONS 18
// ReceiverSettings
#define SP_F_RS_SUBSCRIPTION_ID 1
#define SP_F_RS_REVISION 2
#define SP_F_RS_SETTINGS 3
// ExecutionReport
#define SP_F_ER_SEQUENCE_NUMBER 1
#define SP_F_ER_MASTER_POSITION_ID 2
#define SP_F_ER_KIND 3
#define SP_F_ER_OUTCOME 4
#define SP_F_ER_TICKET 5
#define SP_F_ER_REQUESTED_VOLUME 6
#define SP_F_ER_VOLUME 7
#define SP_F_ER_HAS_PRICE 8
#define SP_F_ER_PRICE 9
#define SP_F_ER_HAS_SLIPPAGE 10
#define SP_F_ER_SLIPPAGE_PIPS 11
#define SP_F_ER_HAS_DELAY 12
#define SP_F_ER_DELAY_MS 13
#define SP_F_ER_HAS_PROFIT 14
#define SP_F_ER_PROFIT 15
#define SP_F_ER_CURRENCY 16
#define SP_F_ER_REASON 17
#define SP_F_ER_EXECUTED_AT 18
// ExecutionReportAck
#define SP_F_ERA_SEQUENCE_NUMBER 1
#define SP_F_ERA_MASTER_POSITION_ID 2
#define SP_F_ERA_KIND 3

// ---- enum values (proto/sigplane.proto) ----
#define SP_STATE_UNSPECIFIED 0
#define SP_STATE_ACTIVE 1
#define SP_STATE_DEGRADED 2
#define SP_STATE_SYNCING 3
#define SP_STATE_ISOLATED 4

#define SP_ACTION_NETTING 0
#define SP_ACTION_OPEN 1
#define SP_ACTION_MODIFY 2
#define SP_ACTION_CLOSE 3
#define SP_ACTION_PARTIAL_CLOSE 4

#define SP_ACK_ACCEPTED 1
#define SP_ACK_DUPLICATE 2

#define SP_REJECT_MALFORMED 1
#define SP_REJECT_FRAME_TOO_LARGE 2
#define SP_REJECT_RATE_LIMITED 3
#define SP_REJECT_SIGNATURE_INVALID 4
#define SP_REJECT_UNKNOWN_KEY 5
#define SP_REJECT_INVALID_FIELD 6
#define SP_REJECT_STALE 7
#define SP_REJECT_FUTURE 8
#define SP_REJECT_REPLAY 9
#define SP_REJECT_WRONG_SUBSCRIPTION 10
#define SP_REJECT_BUSY 11
#define SP_REJECT_DEGRADED_BUFFER_FULL 12
#define SP_REJECT_PRICE_DEVIATION 13
#define SP_REJECT_POSITION_UNKNOWN 14
#define SP_REJECT_ISOLATED 15
#define SP_REJECT_UNSUPPORTED 16
#define SP_REJECT_SEQUENCE_OUT_OF_RANGE 17
#define SP_REJECT_REPORT_INVALID 18
#define SP_REJECT_REPORT_NOT_DELIVERED 19

#define SP_KIND_OPEN 1
#define SP_KIND_ADOPT 2
#define SP_KIND_CLOSE 3
#define SP_KIND_REDUCE 4
#define SP_KIND_MODIFY 5
#define SP_KIND_SKIP 6

#define SP_OUTCOME_FILLED 1
#define SP_OUTCOME_PARTIALLY_FILLED 2
#define SP_OUTCOME_SKIPPED 3
#define SP_OUTCOME_REJECTED 4

/** Names of the reject codes, for logs (the numbers are the contract). */
string SpRejectName(int code)
  {
   switch(code)
     {
      case SP_REJECT_MALFORMED: return "MALFORMED";
      case SP_REJECT_FRAME_TOO_LARGE: return "FRAME_TOO_LARGE";
      case SP_REJECT_RATE_LIMITED: return "RATE_LIMITED";
      case SP_REJECT_SIGNATURE_INVALID: return "SIGNATURE_INVALID";
      case SP_REJECT_UNKNOWN_KEY: return "UNKNOWN_KEY";
      case SP_REJECT_INVALID_FIELD: return "INVALID_FIELD";
      case SP_REJECT_STALE: return "STALE";
      case SP_REJECT_FUTURE: return "FUTURE";
      case SP_REJECT_REPLAY: return "REPLAY";
      case SP_REJECT_WRONG_SUBSCRIPTION: return "WRONG_SUBSCRIPTION";
      case SP_REJECT_BUSY: return "BUSY";
      case SP_REJECT_DEGRADED_BUFFER_FULL: return "DEGRADED_BUFFER_FULL";
      case SP_REJECT_PRICE_DEVIATION: return "PRICE_DEVIATION";
      case SP_REJECT_POSITION_UNKNOWN: return "POSITION_UNKNOWN";
      case SP_REJECT_ISOLATED: return "ISOLATED";
      case SP_REJECT_UNSUPPORTED: return "UNSUPPORTED";
      case SP_REJECT_SEQUENCE_OUT_OF_RANGE: return "SEQUENCE_OUT_OF_RANGE";
      case SP_REJECT_REPORT_INVALID: return "REPORT_INVALID";
      case SP_REJECT_REPORT_NOT_DELIVERED: return "REPORT_NOT_DELIVERED";
     }
   return "REJECT_" + IntegerToString(code);
  }

string SpStateName(int state)
  {
   switch(state)
     {
      case SP_STATE_ACTIVE: return "ACTIVE";
      case SP_STATE_DEGRADED: return "DEGRADED";
      case SP_STATE_SYNCING: return "SYNCING";
      case SP_STATE_ISOLATED: return "ISOLATED";
     }
   return "STATE_UNSPECIFIED";
  }

string SpKindName(int kind)
  {
   switch(kind)
     {
      case SP_KIND_OPEN: return "open";
      case SP_KIND_ADOPT: return "adopt";
      case SP_KIND_CLOSE: return "close";
      case SP_KIND_REDUCE: return "reduce";
      case SP_KIND_MODIFY: return "modify";
      case SP_KIND_SKIP: return "skip";
     }
   return "unknown";
  }

/**
 * Every field the EAs read or write: "Message.field number type" per line,
 * with the numbers the codec uses. proto-fields.test.ts parses
 * proto/sigplane.proto and checks each line against it.
 */
string SpProtoFieldTable(void)
  {
   string t = "";
   t += "Frame.signal_v1 " + IntegerToString(SP_FRAME_SIGNAL_V1) + " SignalV1\n";
   t += "Frame.signal_v2 " + IntegerToString(SP_FRAME_SIGNAL_V2) + " Signed\n";
   t += "Frame.snapshot_from_master " + IntegerToString(SP_FRAME_SNAPSHOT_FROM_MASTER) + " Signed\n";
   t += "Frame.ack " + IntegerToString(SP_FRAME_ACK) + " Ack\n";
   t += "Frame.reject " + IntegerToString(SP_FRAME_REJECT) + " Reject\n";
   t += "Frame.sync_request " + IntegerToString(SP_FRAME_SYNC_REQUEST) + " SyncRequest\n";
   t += "Frame.subscribe " + IntegerToString(SP_FRAME_SUBSCRIBE) + " Subscribe\n";
   t += "Frame.delivery " + IntegerToString(SP_FRAME_DELIVERY) + " Delivery\n";
   t += "Frame.delivery_ack " + IntegerToString(SP_FRAME_DELIVERY_ACK) + " DeliveryAck\n";
   t += "Frame.snapshot " + IntegerToString(SP_FRAME_SNAPSHOT) + " Snapshot\n";
   t += "Frame.state_change " + IntegerToString(SP_FRAME_STATE_CHANGE) + " StateChange\n";
   t += "Frame.heartbeat " + IntegerToString(SP_FRAME_HEARTBEAT) + " Heartbeat\n";
   t += "Frame.welcome " + IntegerToString(SP_FRAME_WELCOME) + " Welcome\n";
   t += "Frame.receiver_settings " + IntegerToString(SP_FRAME_RECEIVER_SETTINGS) + " ReceiverSettings\n";
   t += "Frame.execution_report " + IntegerToString(SP_FRAME_EXECUTION_REPORT) + " ExecutionReport\n";
   t += "Frame.execution_report_ack " + IntegerToString(SP_FRAME_EXECUTION_REPORT_ACK) + " ExecutionReportAck\n";
   t += "SignalV1.subscription_id " + IntegerToString(SP_F_V1_SUBSCRIPTION_ID) + " string\n";
   t += "SignalV1.sequence_number " + IntegerToString(SP_F_V1_SEQUENCE_NUMBER) + " uint64\n";
   t += "SignalV1.generated_at " + IntegerToString(SP_F_V1_GENERATED_AT) + " int64\n";
   t += "SignalV1.symbol " + IntegerToString(SP_F_V1_SYMBOL) + " string\n";
   t += "SignalV1.order_type " + IntegerToString(SP_F_V1_ORDER_TYPE) + " int32\n";
   t += "SignalV1.volume " + IntegerToString(SP_F_V1_VOLUME) + " double\n";
   t += "SignalV1.price " + IntegerToString(SP_F_V1_PRICE) + " double\n";
   t += "SignalV1.signature " + IntegerToString(SP_F_V1_SIGNATURE) + " string\n";
   t += "SignalBody.subscription_id " + IntegerToString(SP_F_BODY_SUBSCRIPTION_ID) + " string\n";
   t += "SignalBody.sequence_number " + IntegerToString(SP_F_BODY_SEQUENCE_NUMBER) + " uint64\n";
   t += "SignalBody.generated_at " + IntegerToString(SP_F_BODY_GENERATED_AT) + " int64\n";
   t += "SignalBody.symbol " + IntegerToString(SP_F_BODY_SYMBOL) + " string\n";
   t += "SignalBody.order_type " + IntegerToString(SP_F_BODY_ORDER_TYPE) + " int32\n";
   t += "SignalBody.volume " + IntegerToString(SP_F_BODY_VOLUME) + " double\n";
   t += "SignalBody.price " + IntegerToString(SP_F_BODY_PRICE) + " double\n";
   t += "SignalBody.action " + IntegerToString(SP_F_BODY_ACTION) + " Action\n";
   t += "SignalBody.position_id " + IntegerToString(SP_F_BODY_POSITION_ID) + " uint64\n";
   t += "SignalBody.stop_loss " + IntegerToString(SP_F_BODY_STOP_LOSS) + " double\n";
   t += "SignalBody.take_profit " + IntegerToString(SP_F_BODY_TAKE_PROFIT) + " double\n";
   t += "SignalBody.magic " + IntegerToString(SP_F_BODY_MAGIC) + " uint64\n";
   t += "Signed.body " + IntegerToString(SP_F_SIGNED_BODY) + " bytes\n";
   t += "Signed.key_id " + IntegerToString(SP_F_SIGNED_KEY_ID) + " string\n";
   t += "Signed.mac " + IntegerToString(SP_F_SIGNED_MAC) + " bytes\n";
   t += "Position.position_id " + IntegerToString(SP_F_POS_POSITION_ID) + " string\n";
   t += "Position.symbol " + IntegerToString(SP_F_POS_SYMBOL) + " string\n";
   t += "Position.order_type " + IntegerToString(SP_F_POS_ORDER_TYPE) + " int32\n";
   t += "Position.volume " + IntegerToString(SP_F_POS_VOLUME) + " double\n";
   t += "Position.open_price " + IntegerToString(SP_F_POS_OPEN_PRICE) + " double\n";
   t += "Position.stop_loss " + IntegerToString(SP_F_POS_STOP_LOSS) + " double\n";
   t += "Position.take_profit " + IntegerToString(SP_F_POS_TAKE_PROFIT) + " double\n";
   t += "Position.magic " + IntegerToString(SP_F_POS_MAGIC) + " uint64\n";
   t += "Position.opened_sequence " + IntegerToString(SP_F_POS_OPENED_SEQUENCE) + " uint64\n";
   t += "SnapshotBody.subscription_id " + IntegerToString(SP_F_SNAPBODY_SUBSCRIPTION_ID) + " string\n";
   t += "SnapshotBody.sequence_number " + IntegerToString(SP_F_SNAPBODY_SEQUENCE_NUMBER) + " uint64\n";
   t += "SnapshotBody.generated_at " + IntegerToString(SP_F_SNAPBODY_GENERATED_AT) + " int64\n";
   t += "SnapshotBody.positions " + IntegerToString(SP_F_SNAPBODY_POSITIONS) + " repeated Position\n";
   t += "Ack.sequence_number " + IntegerToString(SP_F_ACK_SEQUENCE_NUMBER) + " uint64\n";
   t += "Ack.status " + IntegerToString(SP_F_ACK_STATUS) + " AckStatus\n";
   t += "Reject.code " + IntegerToString(SP_F_REJECT_CODE) + " RejectCode\n";
   t += "Reject.message " + IntegerToString(SP_F_REJECT_MESSAGE) + " string\n";
   t += "Reject.sequence_number " + IntegerToString(SP_F_REJECT_SEQUENCE_NUMBER) + " uint64\n";
   t += "SyncRequest.from_sequence " + IntegerToString(SP_F_SYNC_FROM_SEQUENCE) + " uint64\n";
   t += "SyncRequest.to_sequence " + IntegerToString(SP_F_SYNC_TO_SEQUENCE) + " uint64\n";
   t += "SyncRequest.full " + IntegerToString(SP_F_SYNC_FULL) + " bool\n";
   t += "Subscribe.has_last_sequence " + IntegerToString(SP_F_SUB_HAS_LAST_SEQUENCE) + " bool\n";
   t += "Subscribe.last_sequence " + IntegerToString(SP_F_SUB_LAST_SEQUENCE) + " uint64\n";
   t += "Delivery.subscription_id " + IntegerToString(SP_F_DEL_SUBSCRIPTION_ID) + " string\n";
   t += "Delivery.sequence_number " + IntegerToString(SP_F_DEL_SEQUENCE_NUMBER) + " uint64\n";
   t += "Delivery.signal " + IntegerToString(SP_F_DEL_SIGNAL) + " SignalBody\n";
   t += "Delivery.signing_version " + IntegerToString(SP_F_DEL_SIGNING_VERSION) + " uint32\n";
   t += "Delivery.accepted_at " + IntegerToString(SP_F_DEL_ACCEPTED_AT) + " int64\n";
   t += "DeliveryAck.sequence_number " + IntegerToString(SP_F_DACK_SEQUENCE_NUMBER) + " uint64\n";
   t += "Snapshot.subscription_id " + IntegerToString(SP_F_SNAP_SUBSCRIPTION_ID) + " string\n";
   t += "Snapshot.sequence_number " + IntegerToString(SP_F_SNAP_SEQUENCE_NUMBER) + " uint64\n";
   t += "Snapshot.positions " + IntegerToString(SP_F_SNAP_POSITIONS) + " repeated Position\n";
   t += "StateChange.state " + IntegerToString(SP_F_STATE_STATE) + " SubscriptionState\n";
   t += "StateChange.sequence_number " + IntegerToString(SP_F_STATE_SEQUENCE_NUMBER) + " uint64\n";
   t += "StateChange.reason " + IntegerToString(SP_F_STATE_REASON) + " string\n";
   t += "Heartbeat.sent_at " + IntegerToString(SP_F_HEARTBEAT_SENT_AT) + " int64\n";
   t += "Welcome.subscription_id " + IntegerToString(SP_F_WELCOME_SUBSCRIPTION_ID) + " string\n";
   t += "Welcome.state " + IntegerToString(SP_F_WELCOME_STATE) + " SubscriptionState\n";
   t += "Welcome.last_sequence " + IntegerToString(SP_F_WELCOME_LAST_SEQUENCE) + " uint64\n";
   t += "Welcome.role " + IntegerToString(SP_F_WELCOME_ROLE) + " string\n";
   // Pacing (docs/protocol.md): absent from older servers' schema, and then read as 0 (unknown).
   t += "Welcome.signals_per_second " + IntegerToString(SP_F_WELCOME_SIGNALS_PER_SECOND) + " uint32 optional-in-schema\n";
   t += "Welcome.signals_burst " + IntegerToString(SP_F_WELCOME_SIGNALS_BURST) + " uint32 optional-in-schema\n";
   t += "CopySettings.symbol_prefix " + IntegerToString(SP_F_CS_SYMBOL_PREFIX) + " string\n";
   t += "CopySettings.symbol_suffix " + IntegerToString(SP_F_CS_SYMBOL_SUFFIX) + " string\n";
   t += "CopySettings.symbol_map " + IntegerToString(SP_F_CS_SYMBOL_MAP) + " map string string\n";
   t += "CopySettings.lot_mode " + IntegerToString(SP_F_CS_LOT_MODE) + " LotMode\n";
   t += "CopySettings.lot_value " + IntegerToString(SP_F_CS_LOT_VALUE) + " double\n";
   t += "CopySettings.master_equity " + IntegerToString(SP_F_CS_MASTER_EQUITY) + " double\n";
   t += "CopySettings.lot_min " + IntegerToString(SP_F_CS_LOT_MIN) + " double\n";
   t += "CopySettings.lot_max " + IntegerToString(SP_F_CS_LOT_MAX) + " double\n";
   t += "CopySettings.reverse " + IntegerToString(SP_F_CS_REVERSE) + " bool\n";
   t += "CopySettings.copy_stop_loss " + IntegerToString(SP_F_CS_COPY_STOP_LOSS) + " bool\n";
   t += "CopySettings.copy_take_profit " + IntegerToString(SP_F_CS_COPY_TAKE_PROFIT) + " bool\n";
   t += "CopySettings.symbols_allowed " + IntegerToString(SP_F_CS_SYMBOLS_ALLOWED) + " repeated string\n";
   t += "CopySettings.symbols_blocked " + IntegerToString(SP_F_CS_SYMBOLS_BLOCKED) + " repeated string\n";
   t += "CopySettings.magics_allowed " + IntegerToString(SP_F_CS_MAGICS_ALLOWED) + " repeated uint64\n";
   t += "CopySettings.magics_blocked " + IntegerToString(SP_F_CS_MAGICS_BLOCKED) + " repeated uint64\n";
   t += "CopySettings.price_deviation_pips_max " + IntegerToString(SP_F_CS_PRICE_DEVIATION_PIPS_MAX) + " double\n";
   t += "CopySettings.signal_age_ms_max " + IntegerToString(SP_F_CS_SIGNAL_AGE_MS_MAX) + " uint32\n";
   t += "CopySettings.copy_open_positions " + IntegerToString(SP_F_CS_COPY_OPEN_POSITIONS) + " bool\n";
   t += "ReceiverSettings.subscription_id " + IntegerToString(SP_F_RS_SUBSCRIPTION_ID) + " string\n";
   t += "ReceiverSettings.revision " + IntegerToString(SP_F_RS_REVISION) + " uint64\n";
   t += "ReceiverSettings.settings " + IntegerToString(SP_F_RS_SETTINGS) + " CopySettings\n";
   t += "ExecutionReport.sequence_number " + IntegerToString(SP_F_ER_SEQUENCE_NUMBER) + " uint64\n";
   t += "ExecutionReport.master_position_id " + IntegerToString(SP_F_ER_MASTER_POSITION_ID) + " string\n";
   t += "ExecutionReport.kind " + IntegerToString(SP_F_ER_KIND) + " ExecutionKind\n";
   t += "ExecutionReport.outcome " + IntegerToString(SP_F_ER_OUTCOME) + " ExecutionOutcome\n";
   t += "ExecutionReport.ticket " + IntegerToString(SP_F_ER_TICKET) + " string\n";
   t += "ExecutionReport.requested_volume " + IntegerToString(SP_F_ER_REQUESTED_VOLUME) + " double\n";
   t += "ExecutionReport.volume " + IntegerToString(SP_F_ER_VOLUME) + " double\n";
   t += "ExecutionReport.has_price " + IntegerToString(SP_F_ER_HAS_PRICE) + " bool\n";
   t += "ExecutionReport.price " + IntegerToString(SP_F_ER_PRICE) + " double\n";
   t += "ExecutionReport.has_slippage " + IntegerToString(SP_F_ER_HAS_SLIPPAGE) + " bool\n";
   t += "ExecutionReport.slippage_pips " + IntegerToString(SP_F_ER_SLIPPAGE_PIPS) + " double\n";
   t += "ExecutionReport.has_delay " + IntegerToString(SP_F_ER_HAS_DELAY) + " bool\n";
   t += "ExecutionReport.delay_ms " + IntegerToString(SP_F_ER_DELAY_MS) + " int64\n";
   t += "ExecutionReport.has_profit " + IntegerToString(SP_F_ER_HAS_PROFIT) + " bool\n";
   t += "ExecutionReport.profit " + IntegerToString(SP_F_ER_PROFIT) + " double\n";
   t += "ExecutionReport.currency " + IntegerToString(SP_F_ER_CURRENCY) + " string\n";
   t += "ExecutionReport.reason " + IntegerToString(SP_F_ER_REASON) + " string\n";
   t += "ExecutionReport.executed_at " + IntegerToString(SP_F_ER_EXECUTED_AT) + " int64\n";
   t += "ExecutionReportAck.sequence_number " + IntegerToString(SP_F_ERA_SEQUENCE_NUMBER) + " uint64\n";
   t += "ExecutionReportAck.master_position_id " + IntegerToString(SP_F_ERA_MASTER_POSITION_ID) + " string\n";
   t += "ExecutionReportAck.kind " + IntegerToString(SP_F_ERA_KIND) + " ExecutionKind\n";
   // Enum values the EAs switch on.
   t += "enum SubscriptionState.ACTIVE " + IntegerToString(SP_STATE_ACTIVE) + "\n";
   t += "enum SubscriptionState.DEGRADED " + IntegerToString(SP_STATE_DEGRADED) + "\n";
   t += "enum SubscriptionState.SYNCING " + IntegerToString(SP_STATE_SYNCING) + "\n";
   t += "enum SubscriptionState.ISOLATED " + IntegerToString(SP_STATE_ISOLATED) + "\n";
   t += "enum Action.OPEN " + IntegerToString(SP_ACTION_OPEN) + "\n";
   t += "enum Action.MODIFY " + IntegerToString(SP_ACTION_MODIFY) + "\n";
   t += "enum Action.CLOSE " + IntegerToString(SP_ACTION_CLOSE) + "\n";
   t += "enum Action.PARTIAL_CLOSE " + IntegerToString(SP_ACTION_PARTIAL_CLOSE) + "\n";
   t += "enum AckStatus.ACCEPTED " + IntegerToString(SP_ACK_ACCEPTED) + "\n";
   t += "enum AckStatus.DUPLICATE " + IntegerToString(SP_ACK_DUPLICATE) + "\n";
   t += "enum RejectCode.RATE_LIMITED " + IntegerToString(SP_REJECT_RATE_LIMITED) + "\n";
   t += "enum RejectCode.SIGNATURE_INVALID " + IntegerToString(SP_REJECT_SIGNATURE_INVALID) + "\n";
   t += "enum RejectCode.UNKNOWN_KEY " + IntegerToString(SP_REJECT_UNKNOWN_KEY) + "\n";
   t += "enum RejectCode.STALE " + IntegerToString(SP_REJECT_STALE) + "\n";
   t += "enum RejectCode.FUTURE " + IntegerToString(SP_REJECT_FUTURE) + "\n";
   t += "enum RejectCode.REPLAY " + IntegerToString(SP_REJECT_REPLAY) + "\n";
   t += "enum RejectCode.WRONG_SUBSCRIPTION " + IntegerToString(SP_REJECT_WRONG_SUBSCRIPTION) + "\n";
   t += "enum RejectCode.BUSY " + IntegerToString(SP_REJECT_BUSY) + "\n";
   t += "enum RejectCode.ISOLATED " + IntegerToString(SP_REJECT_ISOLATED) + "\n";
   t += "enum RejectCode.REPORT_INVALID " + IntegerToString(SP_REJECT_REPORT_INVALID) + "\n";
   t += "enum RejectCode.REPORT_NOT_DELIVERED " + IntegerToString(SP_REJECT_REPORT_NOT_DELIVERED) + "\n";
   t += "enum LotMode.FIXED " + IntegerToString(SP_LOT_MODE_FIXED) + "\n";
   t += "enum LotMode.MULTIPLIER " + IntegerToString(SP_LOT_MODE_MULTIPLIER) + "\n";
   t += "enum LotMode.EQUITY_RATIO " + IntegerToString(SP_LOT_MODE_EQUITY_RATIO) + "\n";
   t += "enum LotMode.RISK_PERCENT " + IntegerToString(SP_LOT_MODE_RISK_PERCENT) + "\n";
   t += "enum ExecutionKind.KIND_OPEN " + IntegerToString(SP_KIND_OPEN) + "\n";
   t += "enum ExecutionKind.KIND_ADOPT " + IntegerToString(SP_KIND_ADOPT) + "\n";
   t += "enum ExecutionKind.KIND_CLOSE " + IntegerToString(SP_KIND_CLOSE) + "\n";
   t += "enum ExecutionKind.KIND_REDUCE " + IntegerToString(SP_KIND_REDUCE) + "\n";
   t += "enum ExecutionKind.KIND_MODIFY " + IntegerToString(SP_KIND_MODIFY) + "\n";
   t += "enum ExecutionKind.KIND_SKIP " + IntegerToString(SP_KIND_SKIP) + "\n";
   t += "enum ExecutionOutcome.OUTCOME_FILLED " + IntegerToString(SP_OUTCOME_FILLED) + "\n";
   t += "enum ExecutionOutcome.OUTCOME_PARTIALLY_FILLED " + IntegerToString(SP_OUTCOME_PARTIALLY_FILLED) + "\n";
   t += "enum ExecutionOutcome.OUTCOME_SKIPPED " + IntegerToString(SP_OUTCOME_SKIPPED) + "\n";
   t += "enum ExecutionOutcome.OUTCOME_REJECTED " + IntegerToString(SP_OUTCOME_REJECTED) + "\n";
   return t;
  }

// ---- messages ----

class SpSignalBody
  {
public:
   string            subscriptionId;
   ulong             sequence;
   long              generatedAt;
   string            symbol;
   int               orderType;
   double            volume;
   double            price;
   int               action;
   ulong             positionId;
   double            stopLoss;
   double            takeProfit;
   ulong             magic;
                     SpSignalBody(void) { Reset(); }
   void              Reset(void)
     {
      subscriptionId = "";
      sequence = 0;
      generatedAt = 0;
      symbol = "";
      orderType = 0;
      volume = 0;
      price = 0;
      action = 0;
      positionId = 0;
      stopLoss = 0;
      takeProfit = 0;
      magic = 0;
     }
   void              CopyFrom(const SpSignalBody &o)
     {
      subscriptionId = o.subscriptionId;
      sequence = o.sequence;
      generatedAt = o.generatedAt;
      symbol = o.symbol;
      orderType = o.orderType;
      volume = o.volume;
      price = o.price;
      action = o.action;
      positionId = o.positionId;
      stopLoss = o.stopLoss;
      takeProfit = o.takeProfit;
      magic = o.magic;
     }
  };

class SpPosition
  {
public:
   /** v2: the master's position id in decimal; v1: "v1:<SYMBOL>". */
   string            positionId;
   string            symbol;
   int               orderType;
   double            volume;
   double            openPrice;
   double            stopLoss;
   double            takeProfit;
   ulong             magic;
   ulong             openedSequence;
                     SpPosition(void) { Reset(); }
   void              Reset(void)
     {
      positionId = "";
      symbol = "";
      orderType = 0;
      volume = 0;
      openPrice = 0;
      stopLoss = 0;
      takeProfit = 0;
      magic = 0;
      openedSequence = 0;
     }
  };

/** Positions of a snapshot: a fixed array of SP_SNAPSHOT_POSITIONS_MAX. */
class SpPositionList
  {
public:
   SpPosition        items[SP_SNAPSHOT_POSITIONS_MAX];
   int               count;
   bool              overflow;
                     SpPositionList(void) { count = 0; overflow = false; }
   void              Clear(void) { count = 0; overflow = false; }
   /** The next free entry, reset; -1 when full (overflow is set). */
   int               Add(void)
     {
      if(count >= SP_SNAPSHOT_POSITIONS_MAX)
        {
         overflow = true;
         return -1;
        }
      items[count].Reset();
      count++;
      return count - 1;
     }
   int               Find(const string &positionId) const
     {
      for(int i = 0; i < count; i++)
         if(items[i].positionId == positionId)
            return i;
      return -1;
     }
  };

class SpWelcome
  {
public:
   string            subscriptionId;
   int               state;
   ulong             lastSequence;
   string            role;
   /** 0 = not said (a receiver, or a server before pacing). */
   uint              signalsPerSecond;
   uint              signalsBurst;
   void              Reset(void) { subscriptionId = ""; state = 0; lastSequence = 0; role = ""; signalsPerSecond = 0; signalsBurst = 0; }
  };

class SpAck
  {
public:
   ulong             sequence;
   int               status;
   void              Reset(void) { sequence = 0; status = 0; }
  };

class SpReject
  {
public:
   int               code;
   string            message;
   ulong             sequence;
   void              Reset(void) { code = 0; message = ""; sequence = 0; }
  };

class SpSyncRequest
  {
public:
   ulong             fromSequence;
   ulong             toSequence;
   bool              full;
   void              Reset(void) { fromSequence = 0; toSequence = 0; full = false; }
  };

class SpStateChange
  {
public:
   int               state;
   ulong             sequence;
   string            reason;
   void              Reset(void) { state = 0; sequence = 0; reason = ""; }
  };

class SpDelivery
  {
public:
   string            subscriptionId;
   ulong             sequence;
   bool              hasSignal;
   SpSignalBody      signal;
   int               signingVersion;
   long              acceptedAt;
   void              Reset(void) { subscriptionId = ""; sequence = 0; hasSignal = false; signal.Reset(); signingVersion = 0; acceptedAt = 0; }
  };

class SpSnapshot
  {
public:
   string            subscriptionId;
   ulong             sequence;
   SpPositionList    positions;
   void              Reset(void) { subscriptionId = ""; sequence = 0; positions.Clear(); }
  };

class SpReceiverSettings
  {
public:
   string            subscriptionId;
   ulong             revision;
   bool              hasSettings;
   SpCopySettings    settings;
   void              Reset(void) { subscriptionId = ""; revision = 0; hasSettings = false; settings.Zero(); }
  };

class SpExecutionReport
  {
public:
   ulong             sequence;
   string            masterPositionId;
   int               kind;
   int               outcome;
   string            ticket;
   double            requestedVolume;
   double            volume;
   bool              hasPrice;
   double            price;
   bool              hasSlippage;
   double            slippagePips;
   bool              hasDelay;
   long              delayMs;
   bool              hasProfit;
   double            profit;
   string            currency;
   string            reason;
   long              executedAt;
                     SpExecutionReport(void) { Reset(); }
   void              Reset(void)
     {
      sequence = 0;
      masterPositionId = "";
      kind = 0;
      outcome = 0;
      ticket = "";
      requestedVolume = 0;
      volume = 0;
      hasPrice = false;
      price = 0;
      hasSlippage = false;
      slippagePips = 0;
      hasDelay = false;
      delayMs = 0;
      hasProfit = false;
      profit = 0;
      currency = "";
      reason = "";
      executedAt = 0;
     }
   void              CopyFrom(const SpExecutionReport &o)
     {
      sequence = o.sequence;
      masterPositionId = o.masterPositionId;
      kind = o.kind;
      outcome = o.outcome;
      ticket = o.ticket;
      requestedVolume = o.requestedVolume;
      volume = o.volume;
      hasPrice = o.hasPrice;
      price = o.price;
      hasSlippage = o.hasSlippage;
      slippagePips = o.slippagePips;
      hasDelay = o.hasDelay;
      delayMs = o.delayMs;
      hasProfit = o.hasProfit;
      profit = o.profit;
      currency = o.currency;
      reason = o.reason;
      executedAt = o.executedAt;
     }
  };

class SpExecutionReportAck
  {
public:
   ulong             sequence;
   string            masterPositionId;
   int               kind;
   void              Reset(void) { sequence = 0; masterPositionId = ""; kind = 0; }
  };

// ---- encoding ----

class SpFrameEncoder
  {
private:
   SpProtoWriter     m_w;

   void              PositionFields(ByteBuffer &out, const SpPosition &p)
     {
      m_w.String(out, SP_F_POS_POSITION_ID, p.positionId);
      m_w.String(out, SP_F_POS_SYMBOL, p.symbol);
      m_w.Int(out, SP_F_POS_ORDER_TYPE, p.orderType);
      m_w.Double(out, SP_F_POS_VOLUME, p.volume);
      m_w.Double(out, SP_F_POS_OPEN_PRICE, p.openPrice);
      m_w.Double(out, SP_F_POS_STOP_LOSS, p.stopLoss);
      m_w.Double(out, SP_F_POS_TAKE_PROFIT, p.takeProfit);
      m_w.Uint(out, SP_F_POS_MAGIC, p.magic);
      m_w.Uint(out, SP_F_POS_OPENED_SEQUENCE, p.openedSequence);
     }

public:
   /** An encoded SignalBody (what a v2 MAC covers), appended to `out`. */
   void              SignalBody(const SpSignalBody &b, ByteBuffer &out)
     {
      m_w.String(out, SP_F_BODY_SUBSCRIPTION_ID, b.subscriptionId);
      m_w.Uint(out, SP_F_BODY_SEQUENCE_NUMBER, b.sequence);
      m_w.Int(out, SP_F_BODY_GENERATED_AT, b.generatedAt);
      m_w.String(out, SP_F_BODY_SYMBOL, b.symbol);
      m_w.Int(out, SP_F_BODY_ORDER_TYPE, b.orderType);
      m_w.Double(out, SP_F_BODY_VOLUME, b.volume);
      m_w.Double(out, SP_F_BODY_PRICE, b.price);
      m_w.Uint(out, SP_F_BODY_ACTION, (ulong)b.action);
      m_w.Uint(out, SP_F_BODY_POSITION_ID, b.positionId);
      m_w.Double(out, SP_F_BODY_STOP_LOSS, b.stopLoss);
      m_w.Double(out, SP_F_BODY_TAKE_PROFIT, b.takeProfit);
      m_w.Uint(out, SP_F_BODY_MAGIC, b.magic);
     }

   /** An encoded SnapshotBody of `positions` at `sequence`, appended to `out`. */
   void              SnapshotBody(const string &subscriptionId, ulong sequence, long generatedAt, const SpPositionList &positions, ByteBuffer &out)
     {
      m_w.String(out, SP_F_SNAPBODY_SUBSCRIPTION_ID, subscriptionId);
      m_w.Uint(out, SP_F_SNAPBODY_SEQUENCE_NUMBER, sequence);
      m_w.Int(out, SP_F_SNAPBODY_GENERATED_AT, generatedAt);
      for(int i = 0; i < positions.count; i++)
        {
         int start = m_w.BeginMessage(out, SP_F_SNAPBODY_POSITIONS);
         PositionFields(out, positions.items[i]);
         m_w.EndMessage(out, start);
        }
     }

   /** Frame{signal_v2 | snapshot_from_master: Signed{body, key_id, mac}}. */
   void              Signed(int frameField, const ByteBuffer &body, const string &keyId, const ByteBuffer &mac, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, frameField);
      m_w.Bytes(out, SP_F_SIGNED_BODY, body, 0, body.Size());
      m_w.String(out, SP_F_SIGNED_KEY_ID, keyId);
      m_w.Bytes(out, SP_F_SIGNED_MAC, mac, 0, mac.Size());
      m_w.EndMessage(out, start);
     }

   /** Frame{signal_v1}: the seed's packet with its signature. */
   void              SignalV1(const SpSignalBody &b, const string &signature, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_SIGNAL_V1);
      m_w.String(out, SP_F_V1_SUBSCRIPTION_ID, b.subscriptionId);
      m_w.Uint(out, SP_F_V1_SEQUENCE_NUMBER, b.sequence);
      m_w.Int(out, SP_F_V1_GENERATED_AT, b.generatedAt);
      m_w.String(out, SP_F_V1_SYMBOL, b.symbol);
      m_w.Int(out, SP_F_V1_ORDER_TYPE, b.orderType);
      m_w.Double(out, SP_F_V1_VOLUME, b.volume);
      m_w.Double(out, SP_F_V1_PRICE, b.price);
      m_w.String(out, SP_F_V1_SIGNATURE, signature);
      m_w.EndMessage(out, start);
     }

   void              Heartbeat(long sentAtMs, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_HEARTBEAT);
      m_w.Int(out, SP_F_HEARTBEAT_SENT_AT, sentAtMs);
      m_w.EndMessage(out, start);
     }

   void              Subscribe(bool hasLastSequence, ulong lastSequence, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_SUBSCRIBE);
      m_w.Bool(out, SP_F_SUB_HAS_LAST_SEQUENCE, hasLastSequence);
      m_w.Uint(out, SP_F_SUB_LAST_SEQUENCE, lastSequence);
      m_w.EndMessage(out, start);
     }

   void              DeliveryAck(ulong sequence, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_DELIVERY_ACK);
      m_w.Uint(out, SP_F_DACK_SEQUENCE_NUMBER, sequence);
      m_w.EndMessage(out, start);
     }

   void              SyncRequest(ulong fromSequence, ulong toSequence, bool full, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_SYNC_REQUEST);
      m_w.Uint(out, SP_F_SYNC_FROM_SEQUENCE, fromSequence);
      m_w.Uint(out, SP_F_SYNC_TO_SEQUENCE, toSequence);
      m_w.Bool(out, SP_F_SYNC_FULL, full);
      m_w.EndMessage(out, start);
     }

   void              ExecutionReport(const SpExecutionReport &r, ByteBuffer &out)
     {
      out.Clear();
      int start = m_w.BeginMessage(out, SP_FRAME_EXECUTION_REPORT);
      m_w.Uint(out, SP_F_ER_SEQUENCE_NUMBER, r.sequence);
      m_w.String(out, SP_F_ER_MASTER_POSITION_ID, r.masterPositionId);
      m_w.Uint(out, SP_F_ER_KIND, (ulong)r.kind);
      m_w.Uint(out, SP_F_ER_OUTCOME, (ulong)r.outcome);
      m_w.String(out, SP_F_ER_TICKET, r.ticket);
      m_w.Double(out, SP_F_ER_REQUESTED_VOLUME, r.requestedVolume);
      m_w.Double(out, SP_F_ER_VOLUME, r.volume);
      m_w.Bool(out, SP_F_ER_HAS_PRICE, r.hasPrice);
      m_w.Double(out, SP_F_ER_PRICE, r.price);
      m_w.Bool(out, SP_F_ER_HAS_SLIPPAGE, r.hasSlippage);
      m_w.Double(out, SP_F_ER_SLIPPAGE_PIPS, r.slippagePips);
      m_w.Bool(out, SP_F_ER_HAS_DELAY, r.hasDelay);
      m_w.Int(out, SP_F_ER_DELAY_MS, r.delayMs);
      m_w.Bool(out, SP_F_ER_HAS_PROFIT, r.hasProfit);
      m_w.Double(out, SP_F_ER_PROFIT, r.profit);
      m_w.String(out, SP_F_ER_CURRENCY, r.currency);
      m_w.String(out, SP_F_ER_REASON, r.reason);
      m_w.Int(out, SP_F_ER_EXECUTED_AT, r.executedAt);
      m_w.EndMessage(out, start);
     }
  };

// ---- decoding ----

/** One inbound frame, decoded into the member its kind names. */
class SpInbound
  {
public:
   SpWelcome         welcome;
   SpAck             ack;
   SpReject          reject;
   SpSyncRequest     syncRequest;
   SpStateChange     stateChange;
   long              heartbeatSentAt;
   SpDelivery        delivery;
   SpSnapshot        snapshot;
   SpReceiverSettings settings;
   SpExecutionReport executionReport;
   SpExecutionReportAck executionReportAck;
   /** Signed frames (decoded by the tests' round trips): the body's range in the input, the key id, the MAC. */
   int               signedBodyStart;
   int               signedBodyLength;
   string            signedKeyId;
   ByteBuffer        signedMac;

                     SpInbound(void)
     {
      heartbeatSentAt = 0;
      signedBodyStart = 0;
      signedBodyLength = 0;
      signedMac.Reserve(64);
     }

private:
   SpProtoReader     m_frame;
   SpProtoReader     m_msg;
   SpProtoReader     m_sub;
   SpProtoReader     m_entry;
   SpProtoReader     m_packed;
   string            m_key;
   string            m_value;
   string            m_text;

   bool              DecodeSignalBody(const ByteBuffer &in, int start, int length, SpSignalBody &b)
     {
      b.Reset();
      m_sub.Reset(start, start + length);
      while(m_sub.Next(in))
        {
         switch(m_sub.Field())
           {
            case SP_F_BODY_SUBSCRIPTION_ID: m_sub.ReadString(in, b.subscriptionId); break;
            case SP_F_BODY_SEQUENCE_NUMBER: b.sequence = m_sub.ReadUint(in); break;
            case SP_F_BODY_GENERATED_AT: b.generatedAt = m_sub.ReadInt(in); break;
            case SP_F_BODY_SYMBOL: m_sub.ReadString(in, b.symbol); break;
            case SP_F_BODY_ORDER_TYPE: b.orderType = (int)m_sub.ReadInt(in); break;
            case SP_F_BODY_VOLUME: b.volume = m_sub.ReadDouble(in); break;
            case SP_F_BODY_PRICE: b.price = m_sub.ReadDouble(in); break;
            case SP_F_BODY_ACTION: b.action = (int)m_sub.ReadUint(in); break;
            case SP_F_BODY_POSITION_ID: b.positionId = m_sub.ReadUint(in); break;
            case SP_F_BODY_STOP_LOSS: b.stopLoss = m_sub.ReadDouble(in); break;
            case SP_F_BODY_TAKE_PROFIT: b.takeProfit = m_sub.ReadDouble(in); break;
            case SP_F_BODY_MAGIC: b.magic = m_sub.ReadUint(in); break;
            default: m_sub.Skip(in);
           }
        }
      return m_sub.Ok();
     }

   bool              DecodePosition(const ByteBuffer &in, int start, int length, SpPosition &p)
     {
      m_sub.Reset(start, start + length);
      while(m_sub.Next(in))
        {
         switch(m_sub.Field())
           {
            case SP_F_POS_POSITION_ID: m_sub.ReadString(in, p.positionId); break;
            case SP_F_POS_SYMBOL: m_sub.ReadString(in, p.symbol); break;
            case SP_F_POS_ORDER_TYPE: p.orderType = (int)m_sub.ReadInt(in); break;
            case SP_F_POS_VOLUME: p.volume = m_sub.ReadDouble(in); break;
            case SP_F_POS_OPEN_PRICE: p.openPrice = m_sub.ReadDouble(in); break;
            case SP_F_POS_STOP_LOSS: p.stopLoss = m_sub.ReadDouble(in); break;
            case SP_F_POS_TAKE_PROFIT: p.takeProfit = m_sub.ReadDouble(in); break;
            case SP_F_POS_MAGIC: p.magic = m_sub.ReadUint(in); break;
            case SP_F_POS_OPENED_SEQUENCE: p.openedSequence = m_sub.ReadUint(in); break;
            default: m_sub.Skip(in);
           }
        }
      return m_sub.Ok();
     }

   /** A repeated uint64: packed (one length-delimited run) or one varint per entry. */
   bool              ReadMagics(const ByteBuffer &in, bool allowed, SpCopySettings &s)
     {
      if(m_sub.WireType() == SP_WIRE_VARINT)
        {
         ulong v = m_sub.ReadUint(in);
         if(allowed)
            s.AddMagicAllowed(v);
         else
            s.AddMagicBlocked(v);
         return m_sub.Ok();
        }
      int start = 0, length = 0;
      if(!m_sub.ReadLength(in, start, length))
         return false;
      m_packed.Reset(start, start + length);
      while(m_packed.Ok() && m_packed.Position() < start + length)
        {
         ulong v = 0;
         if(!m_packed.Varint(in, v))
            return false;
         if(allowed)
            s.AddMagicAllowed(v);
         else
            s.AddMagicBlocked(v);
        }
      return m_packed.Ok();
     }

   bool              DecodeCopySettings(const ByteBuffer &in, int start, int length, SpCopySettings &s)
     {
      s.Zero();
      m_sub.Reset(start, start + length);
      while(m_sub.Next(in))
        {
         switch(m_sub.Field())
           {
            case SP_F_CS_SYMBOL_PREFIX: m_sub.ReadString(in, s.symbolPrefix); break;
            case SP_F_CS_SYMBOL_SUFFIX: m_sub.ReadString(in, s.symbolSuffix); break;
            case SP_F_CS_SYMBOL_MAP:
              {
               int es = 0, el = 0;
               if(!m_sub.ReadLength(in, es, el))
                  break;
               m_key = "";
               m_value = "";
               m_entry.Reset(es, es + el);
               while(m_entry.Next(in))
                 {
                  if(m_entry.Field() == 1)
                     m_entry.ReadString(in, m_key);
                  else
                     if(m_entry.Field() == 2)
                        m_entry.ReadString(in, m_value);
                     else
                        m_entry.Skip(in);
                 }
               if(!m_entry.Ok())
                  return false;
               s.PutMap(m_key, m_value);
               break;
              }
            case SP_F_CS_LOT_MODE: s.lotMode = (int)m_sub.ReadUint(in); break;
            case SP_F_CS_LOT_VALUE: s.lotValue = m_sub.ReadDouble(in); break;
            case SP_F_CS_MASTER_EQUITY: s.masterEquity = m_sub.ReadDouble(in); break;
            case SP_F_CS_LOT_MIN: s.lotMin = m_sub.ReadDouble(in); break;
            case SP_F_CS_LOT_MAX: s.lotMax = m_sub.ReadDouble(in); break;
            case SP_F_CS_REVERSE: s.reverse = m_sub.ReadBool(in); break;
            case SP_F_CS_COPY_STOP_LOSS: s.copyStopLoss = m_sub.ReadBool(in); break;
            case SP_F_CS_COPY_TAKE_PROFIT: s.copyTakeProfit = m_sub.ReadBool(in); break;
            case SP_F_CS_SYMBOLS_ALLOWED: m_sub.ReadString(in, m_text); s.AddSymbolAllowed(m_text); break;
            case SP_F_CS_SYMBOLS_BLOCKED: m_sub.ReadString(in, m_text); s.AddSymbolBlocked(m_text); break;
            case SP_F_CS_MAGICS_ALLOWED: if(!ReadMagics(in, true, s)) return false; break;
            case SP_F_CS_MAGICS_BLOCKED: if(!ReadMagics(in, false, s)) return false; break;
            case SP_F_CS_PRICE_DEVIATION_PIPS_MAX: s.priceDeviationPipsMax = m_sub.ReadDouble(in); break;
            case SP_F_CS_SIGNAL_AGE_MS_MAX: s.signalAgeMsMax = (long)(m_sub.ReadUint(in) & 0xFFFFFFFF); break;
            case SP_F_CS_COPY_OPEN_POSITIONS: s.copyOpenPositions = m_sub.ReadBool(in); break;
            default: m_sub.Skip(in);
           }
        }
      return m_sub.Ok();
     }

   bool              DecodeMessage(const ByteBuffer &in, int field, int start, int length)
     {
      m_msg.Reset(start, start + length);
      switch(field)
        {
         case SP_FRAME_WELCOME:
            welcome.Reset();
            while(m_msg.Next(in))
              {
               switch(m_msg.Field())
                 {
                  case SP_F_WELCOME_SUBSCRIPTION_ID: m_msg.ReadString(in, welcome.subscriptionId); break;
                  case SP_F_WELCOME_STATE: welcome.state = (int)m_msg.ReadUint(in); break;
                  case SP_F_WELCOME_LAST_SEQUENCE: welcome.lastSequence = m_msg.ReadUint(in); break;
                  case SP_F_WELCOME_ROLE: m_msg.ReadString(in, welcome.role); break;
                  case SP_F_WELCOME_SIGNALS_PER_SECOND: welcome.signalsPerSecond = (uint)(m_msg.ReadUint(in) & 0xFFFFFFFF); break;
                  case SP_F_WELCOME_SIGNALS_BURST: welcome.signalsBurst = (uint)(m_msg.ReadUint(in) & 0xFFFFFFFF); break;
                  default: m_msg.Skip(in);
                 }
              }
            return m_msg.Ok();
         case SP_FRAME_ACK:
            ack.Reset();
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_ACK_SEQUENCE_NUMBER)
                  ack.sequence = m_msg.ReadUint(in);
               else
                  if(m_msg.Field() == SP_F_ACK_STATUS)
                     ack.status = (int)m_msg.ReadUint(in);
                  else
                     m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_REJECT:
            reject.Reset();
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_REJECT_CODE)
                  reject.code = (int)m_msg.ReadUint(in);
               else
                  if(m_msg.Field() == SP_F_REJECT_MESSAGE)
                     m_msg.ReadString(in, reject.message);
                  else
                     if(m_msg.Field() == SP_F_REJECT_SEQUENCE_NUMBER)
                        reject.sequence = m_msg.ReadUint(in);
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_SYNC_REQUEST:
            syncRequest.Reset();
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_SYNC_FROM_SEQUENCE)
                  syncRequest.fromSequence = m_msg.ReadUint(in);
               else
                  if(m_msg.Field() == SP_F_SYNC_TO_SEQUENCE)
                     syncRequest.toSequence = m_msg.ReadUint(in);
                  else
                     if(m_msg.Field() == SP_F_SYNC_FULL)
                        syncRequest.full = m_msg.ReadBool(in);
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_STATE_CHANGE:
            stateChange.Reset();
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_STATE_STATE)
                  stateChange.state = (int)m_msg.ReadUint(in);
               else
                  if(m_msg.Field() == SP_F_STATE_SEQUENCE_NUMBER)
                     stateChange.sequence = m_msg.ReadUint(in);
                  else
                     if(m_msg.Field() == SP_F_STATE_REASON)
                        m_msg.ReadString(in, stateChange.reason);
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_HEARTBEAT:
            heartbeatSentAt = 0;
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_HEARTBEAT_SENT_AT)
                  heartbeatSentAt = m_msg.ReadInt(in);
               else
                  m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_DELIVERY:
           {
            delivery.Reset();
            while(m_msg.Next(in))
              {
               int f = m_msg.Field();
               if(f == SP_F_DEL_SUBSCRIPTION_ID)
                  m_msg.ReadString(in, delivery.subscriptionId);
               else
                  if(f == SP_F_DEL_SEQUENCE_NUMBER)
                     delivery.sequence = m_msg.ReadUint(in);
                  else
                     if(f == SP_F_DEL_SIGNAL)
                       {
                        int s = 0, l = 0;
                        if(!m_msg.ReadLength(in, s, l) || !DecodeSignalBody(in, s, l, delivery.signal))
                           return false;
                        delivery.hasSignal = true;
                       }
                     else
                        if(f == SP_F_DEL_SIGNING_VERSION)
                           delivery.signingVersion = (int)m_msg.ReadUint(in);
                        else
                           if(f == SP_F_DEL_ACCEPTED_AT)
                              delivery.acceptedAt = m_msg.ReadInt(in);
                           else
                              m_msg.Skip(in);
              }
            return m_msg.Ok();
           }
         case SP_FRAME_SNAPSHOT:
           {
            snapshot.Reset();
            while(m_msg.Next(in))
              {
               int f = m_msg.Field();
               if(f == SP_F_SNAP_SUBSCRIPTION_ID)
                  m_msg.ReadString(in, snapshot.subscriptionId);
               else
                  if(f == SP_F_SNAP_SEQUENCE_NUMBER)
                     snapshot.sequence = m_msg.ReadUint(in);
                  else
                     if(f == SP_F_SNAP_POSITIONS)
                       {
                        int s = 0, l = 0;
                        if(!m_msg.ReadLength(in, s, l))
                           return false;
                        int at = snapshot.positions.Add();
                        if(at < 0)
                           return false;
                        if(!DecodePosition(in, s, l, snapshot.positions.items[at]))
                           return false;
                       }
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
           }
         case SP_FRAME_RECEIVER_SETTINGS:
           {
            settings.Reset();
            while(m_msg.Next(in))
              {
               int f = m_msg.Field();
               if(f == SP_F_RS_SUBSCRIPTION_ID)
                  m_msg.ReadString(in, settings.subscriptionId);
               else
                  if(f == SP_F_RS_REVISION)
                     settings.revision = m_msg.ReadUint(in);
                  else
                     if(f == SP_F_RS_SETTINGS)
                       {
                        int s = 0, l = 0;
                        if(!m_msg.ReadLength(in, s, l) || !DecodeCopySettings(in, s, l, settings.settings))
                           return false;
                        settings.hasSettings = true;
                       }
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
           }
         case SP_FRAME_EXECUTION_REPORT_ACK:
            executionReportAck.Reset();
            while(m_msg.Next(in))
              {
               if(m_msg.Field() == SP_F_ERA_SEQUENCE_NUMBER)
                  executionReportAck.sequence = m_msg.ReadUint(in);
               else
                  if(m_msg.Field() == SP_F_ERA_MASTER_POSITION_ID)
                     m_msg.ReadString(in, executionReportAck.masterPositionId);
                  else
                     if(m_msg.Field() == SP_F_ERA_KIND)
                        executionReportAck.kind = (int)m_msg.ReadUint(in);
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
         case SP_FRAME_SIGNAL_V2:
         case SP_FRAME_SNAPSHOT_FROM_MASTER:
           {
            signedBodyStart = 0;
            signedBodyLength = 0;
            signedKeyId = "";
            signedMac.Clear();
            while(m_msg.Next(in))
              {
               int f = m_msg.Field();
               int s = 0, l = 0;
               if(f == SP_F_SIGNED_BODY)
                 {
                  if(!m_msg.ReadLength(in, s, l))
                     return false;
                  signedBodyStart = s;
                  signedBodyLength = l;
                 }
               else
                  if(f == SP_F_SIGNED_KEY_ID)
                     m_msg.ReadString(in, signedKeyId);
                  else
                     if(f == SP_F_SIGNED_MAC)
                       {
                        if(!m_msg.ReadLength(in, s, l))
                           return false;
                        signedMac.Clear();
                        signedMac.AppendRange(in, s, l);
                       }
                     else
                        m_msg.Skip(in);
              }
            return m_msg.Ok();
           }
         default:
            // Frames an EA sends but never receives (signal_v1, subscribe, ...) are read past.
            return true;
        }
      return true;
     }
public:
   /** Decode bytes [from, from + count) as a Frame: its kind (SP_FRAME_*), or 0 when malformed. */
   int               Decode(const ByteBuffer &in, int from, int count)
     {
      int kind = 0;
      int start = 0, length = 0;
      m_frame.Reset(from, from + count);
      while(m_frame.Next(in))
        {
         int field = m_frame.Field();
         if(field < SP_FRAME_SIGNAL_V1 || field > SP_FRAME_EXECUTION_REPORT_ACK)
           {
            m_frame.Skip(in);
            continue;
           }
         if(!m_frame.ReadLength(in, start, length))
            return 0;
         if(!DecodeMessage(in, field, start, length))
            return 0;
         kind = field;
        }
      if(!m_frame.Ok())
         return 0;
      return kind;
     }

   /** A SignalBody on its own (the tests decode what the master signs). */
   bool              DecodeBody(const ByteBuffer &in, int start, int length, SpSignalBody &b)
     {
      return DecodeSignalBody(in, start, length, b);
     }

  };

#endif
