// Every limit and default of the Master and Receiver EAs, in one place.
// (proto/limits.ts is the server's, client/limits.ts the TypeScript SDK's;
// where a number must agree with one of them, the comment says which.)
// Units and qualifiers come last in names.
//
// Common subset of MQL5 and C++: MetaEditor and g++ both compile this file.
#ifndef SIGPLANE_LIMITS_MQH
#define SIGPLANE_LIMITS_MQH

// ---- wire (proto/limits.ts wire) ----
// Frames a master sends: the server refuses more than 256 KiB.
#define SP_MASTER_FRAME_BYTES_MAX 262144
// Frames a receiver sends: the server refuses more than 4 KiB.
#define SP_RECEIVER_FRAME_BYTES_MAX 4096
// Frames the server sends to a receiver: a snapshot of the largest book (client/receiver-client.ts: twice the master limit).
#define SP_RECEIVER_INBOUND_BYTES_MAX 524288
// Frames the server sends to a master: acks, rejects, sync requests, state changes.
#define SP_MASTER_INBOUND_BYTES_MAX 65536
// A snapshot carries at most this many positions (wire.snapshotPositionsMax).
#define SP_SNAPSHOT_POSITIONS_MAX 2000
// Symbols on the wire: [A-Za-z0-9]{1,20} for signals; receiver symbols up to 32 (copySettings.symbolLengthMax).
#define SP_SIGNAL_SYMBOL_CHARS_MAX 20
#define SP_RECEIVER_SYMBOL_CHARS_MAX 32
#define SP_SYMBOL_AFFIX_CHARS_MAX 12
// Sequences are 1..2^53-1 (the server refuses more: SEQUENCE_OUT_OF_RANGE).
#define SP_SEQUENCE_MAX 9007199254740991

// ---- connection (client/limits.ts connection) ----
#define SP_RECONNECT_MIN_MS 250
#define SP_RECONNECT_MAX_MS 10000
// After an answer that will not change soon (401, 403, 4003 ISOLATED, 4004 REVOKED), the EA retries this rarely.
#define SP_RECONNECT_REFUSED_MS 60000
// 429 without Retry-After, or 4029 RATE_LIMITED: the server's own cooldown is 10 s.
#define SP_RECONNECT_RATE_LIMITED_MS 11000
// SocketConnect and the TLS handshake block the EA's thread for at most this long.
#define SP_CONNECT_TIMEOUT_MS 5000
// The upgrade's answer, then the Welcome, must come within this.
#define SP_WELCOME_TIMEOUT_MS 10000
// A sigplane Heartbeat is sent this often (the server closes a connection silent for 60 s).
#define SP_HEARTBEAT_INTERVAL_MS 15000
// Nothing received for this long: the connection is presumed dead, dropped and opened again.
#define SP_SILENCE_TIMEOUT_MS 45000
// The HTTP answer to the upgrade (headers and a short body).
#define SP_UPGRADE_RESPONSE_BYTES_MAX 8192
// Bytes waiting to be written when the socket pushes back: past this the connection is dropped.
#define SP_SEND_BUFFER_BYTES_MAX 1048576
// Bytes read from the socket per poll, at most.
#define SP_SOCKET_READ_CHUNK_BYTES 65536
// Control frames (ping, pong, close) carry at most 125 bytes (RFC 6455 5.5).
#define SP_WS_CONTROL_PAYLOAD_MAX 125

// ---- pacing of a master's sends (docs/protocol.md "Pacing", Welcome.signals_per_second / signals_burst) ----
// When the Welcome names no rate (an older server): far below any server's per-connection limit.
#define SP_PACING_DEFAULT_PER_SECOND 20
#define SP_PACING_DEFAULT_BURST 20

// ---- master (client/limits.ts master) ----
// Signed signals not yet acked, kept in the state database. A full outbox generates no new signal:
// the terminal's positions are compared with what was published again once there is room.
#define SP_OUTBOX_SIGNALS_MAX 1024
// After BUSY or RATE_LIMITED the outbox is resent from the refused sequence after this delay, doubling while refusals repeat.
#define SP_BUSY_RESEND_DELAY_MIN_MS 2
#define SP_BUSY_RESEND_DELAY_MAX_MS 250
// Positions (and netting slices) the master's book holds: what one snapshot can carry.
#define SP_MASTER_BOOK_MAX 2000
// Positions the terminal can list at once for the comparison with the book.
#define SP_TERMINAL_POSITIONS_MAX 4000
// The terminal's positions are compared with the book at least this often, besides every trade transaction.
#define SP_RECONCILE_INTERVAL_MS 1000
// A snapshot the server refused is offered again after this, doubling up to the max.
#define SP_SNAPSHOT_RETRY_MIN_MS 2000
#define SP_SNAPSHOT_RETRY_MAX_MS 60000
// Netting accounts: a slice added to a position gets the id SP_SLICE_ID_BASE + its sequence (never an MT5 ticket).
#define SP_SLICE_ID_BASE 4611686018427387904

// ---- receiver (client/limits.ts receiver and copier) ----
// While a gap stays open, the sync request is repeated this often.
#define SP_GAP_RETRY_MS 2000
// Execution reports not acked, kept (and resent) across reconnects and restarts; past this the oldest is dropped.
#define SP_REPORTS_UNACKED_MAX 4096
// After a report was answered BUSY, the reports of that sequence go again this much later.
#define SP_REPORT_BUSY_RETRY_MS 200
// Acks (ReceiverAcks.mqh), the same policy and numbers as the TypeScript SDK's: client/limits.ts receiver
// (ackIntervalMs, ackBurst, ackEveryDefault; exported as receiverDefaults). An ack is cumulative, so in a burst
// one ack per interval stands for all: each costs the server an ack frame and a cursor record.
// Executed sequences are acked at once while the budget lasts: SP_RECEIVER_ACK_BURST acks, one more per interval
// (1000 / SP_RECEIVER_ACK_INTERVAL_MS a second: the interval must divide 1000).
#define SP_RECEIVER_ACK_INTERVAL_MS 100
#define SP_RECEIVER_ACK_BURST 16
// Past the budget, in a burst, an ack after this many executed deliveries at the latest.
#define SP_RECEIVER_ACK_EVERY 256
// Attempts of one broker operation on transient refusals (requotes) before the delivery fails and comes again.
#define SP_BROKER_ATTEMPTS_MAX 4
// Copies the position map holds (wire.snapshotPositionsMax).
#define SP_COPIES_MAX 2000
// Local tickets one copy may hold (a v1 net position grows by one ticket per added order).
#define SP_COPY_TICKETS_MAX 64
// Entries of each symbol or magic list, and of the symbol map (copySettings.filterEntriesMax, symbolMapEntriesMax).
#define SP_SETTINGS_LIST_MAX 256
// Copy settings bounds (proto/limits.ts copySettings).
#define SP_SETTINGS_LOT_VALUE_MAX 100
#define SP_SETTINGS_LOTS_MAX 100
#define SP_SETTINGS_MASTER_EQUITY_MAX 1000000000000.0
#define SP_SETTINGS_PRICE_DEVIATION_PIPS_MAX 100000
#define SP_SETTINGS_SIGNAL_AGE_MS_MAX 86400000
// MT5 keeps 31 characters of an order comment (client/broker.ts brokerCommentCharsMax).
#define SP_COMMENT_CHARS_MAX 31
// Execution reports: the server's bounds (proto/limits.ts executionReports).
#define SP_REPORT_ID_CHARS_MAX 64
#define SP_REPORT_VOLUME_MAX 1000000.0
#define SP_REPORT_PRICE_MAX 1000000000.0
#define SP_REPORT_SLIPPAGE_PIPS_ABS_MAX 1000000.0
#define SP_REPORT_DELAY_MS_MAX 2592000000
#define SP_REPORT_PROFIT_ABS_MAX 10000000000000.0

// ---- numbers ----
// Volumes closer than this are equal (the server's positions book: lots are multiples of 0.01).
#define SP_VOLUME_EPSILON 0.000000001
// Volumes are rounded to this many decimals after arithmetic (as the server's positions book).
#define SP_VOLUME_DECIMALS 8

#endif
