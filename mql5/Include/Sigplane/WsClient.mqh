// A WebSocket client (RFC 6455) over the platform's socket, polled: the EA
// calls Poll() from OnTimer/OnTick and gets one event at a time (opened, a
// binary message, closed); nothing calls back into the EA.
//
//   - wss:// by default; a failed TLS handshake fails the connection, and
//     nothing is ever retried as plain text (Url.mqh refuses ws:// except to
//     a loopback address).
//   - The token travels in the upgrade's Authorization header only; the
//     answer's Sec-WebSocket-Accept is checked (HttpUpgrade.mqh).
//   - Client frames are masked with fresh random keys, lengths use the
//     minimal encoding (7 bits, 16 bits, 64 bits); server frames must be
//     unmasked, minimally encoded, without reserved bits, control frames
//     short and unfragmented; anything else fails the connection with 1002.
//   - Pings are answered with pongs; a close frame is answered with a close
//     echoing its code; fragmented messages are reassembled up to the
//     configured bound (over it: 1009).
//   - Nothing received for SP_SILENCE_TIMEOUT_MS: the connection is dropped.
//   - Reconnects after a jittered backoff (SP_RECONNECT_MIN_MS doubling to
//     SP_RECONNECT_MAX_MS); the session may set a longer delay after a
//     refusal that will not change soon (SetRetryDelay).
//
// Buffers are reserved at Configure; receiving and sending within those
// bounds allocates nothing.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_WS_CLIENT_MQH
#define SIGPLANE_WS_CLIENT_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Url.mqh>
#include <Sigplane/HttpUpgrade.mqh>

#define SP_WS_EVENT_NONE 0
#define SP_WS_EVENT_OPEN 1
#define SP_WS_EVENT_MESSAGE 2
#define SP_WS_EVENT_CLOSED 3

#define SP_WS_STATE_IDLE 0
#define SP_WS_STATE_UPGRADING 1
#define SP_WS_STATE_REFUSED 2
#define SP_WS_STATE_OPEN 3
#define SP_WS_STATE_STOPPED 4

#define SP_WS_OP_CONTINUATION 0
#define SP_WS_OP_TEXT 1
#define SP_WS_OP_BINARY 2
#define SP_WS_OP_CLOSE 8
#define SP_WS_OP_PING 9
#define SP_WS_OP_PONG 10

// Close codes (RFC 6455 7.4.1) this client sends or reports.
#define SP_CLOSE_NORMAL 1000
#define SP_CLOSE_GOING_AWAY 1001
#define SP_CLOSE_PROTOCOL_ERROR 1002
#define SP_CLOSE_UNSUPPORTED_DATA 1003
#define SP_CLOSE_ABNORMAL 1006
#define SP_CLOSE_TOO_BIG 1009
// Local outcomes that never go on the wire.
#define SP_CLOSE_CONNECT_FAILED 0
#define SP_CLOSE_UPGRADE_REFUSED 1

/** Encodes one client frame: FIN, opcode, mask bit, the minimal length, a 4-byte mask, the masked payload. */
void SpWsEncodeFrame(int opcode, const ByteBuffer &payload, int from, int count, const ByteBuffer &mask, int maskAt, ByteBuffer &out)
  {
   out.Push((uchar)(0x80 | opcode));
   if(count < 126)
      out.Push((uchar)(0x80 | count));
   else
      if(count < 65536)
        {
         out.Push((uchar)(0x80 | 126));
         out.Push((uchar)((count >> 8) & 0xFF));
         out.Push((uchar)(count & 0xFF));
        }
      else
        {
         out.Push((uchar)(0x80 | 127));
         ulong n = (ulong)count;
         for(int i = 7; i >= 0; i--)
            out.Push((uchar)((n >> (8 * i)) & 0xFF));
        }
   for(int i = 0; i < 4; i++)
      out.Push(mask.At(maskAt + i));
   for(int i = 0; i < count; i++)
      out.Push((uchar)(payload.At(from + i) ^ mask.At(maskAt + (i & 3))));
  }

/** One parsed server frame header. */
class SpWsFrameHead
  {
public:
   bool              fin;
   int               opcode;
   int               headerBytes;
   long              payloadBytes;
   /** 0 when the head is acceptable, else the close code to fail with. */
   int               failCode;
   string            failReason;
  };

/**
 * Parse the frame head at the start of `rx`: false while incomplete.
 * Checks everything RFC 6455 requires of a server's frame.
 */
bool SpWsParseHead(const ByteBuffer &rx, long maxMessageBytes, SpWsFrameHead &h)
  {
   h.failCode = 0;
   h.failReason = "";
   if(rx.Size() < 2)
      return false;
   int b0 = rx.At(0);
   int b1 = rx.At(1);
   h.fin = (b0 & 0x80) != 0;
   h.opcode = b0 & 0x0F;
   int len7 = b1 & 0x7F;
   int need = 2 + (len7 == 126 ? 2 : (len7 == 127 ? 8 : 0));
   if(rx.Size() < need)
      return false;
   h.headerBytes = need;
   if(len7 < 126)
      h.payloadBytes = len7;
   else
      if(len7 == 126)
         h.payloadBytes = (rx.At(2) << 8) | rx.At(3);
      else
        {
         ulong n = 0;
         for(int i = 0; i < 8; i++)
            n = (n << 8) | (ulong)rx.At(2 + i);
         h.payloadBytes = (n >> 63) != 0 ? -1 : (long)n;
        }
   if((b0 & 0x70) != 0)
     {
      h.failCode = SP_CLOSE_PROTOCOL_ERROR;
      h.failReason = "reserved bits set";
     }
   else
      if((b1 & 0x80) != 0)
        {
         h.failCode = SP_CLOSE_PROTOCOL_ERROR;
         h.failReason = "masked server frame";
        }
      else
         if(h.payloadBytes < 0 || (len7 == 126 && h.payloadBytes < 126) || (len7 == 127 && h.payloadBytes < 65536))
           {
            h.failCode = SP_CLOSE_PROTOCOL_ERROR;
            h.failReason = "length not minimally encoded";
           }
         else
            if(h.opcode >= SP_WS_OP_CLOSE && (!h.fin || h.payloadBytes > SP_WS_CONTROL_PAYLOAD_MAX || h.opcode > SP_WS_OP_PONG))
              {
               h.failCode = SP_CLOSE_PROTOCOL_ERROR;
               h.failReason = "bad control frame";
              }
            else
               if(h.opcode > SP_WS_OP_BINARY && h.opcode < SP_WS_OP_CLOSE)
                 {
                  h.failCode = SP_CLOSE_PROTOCOL_ERROR;
                  h.failReason = "unknown opcode";
                 }
               else
                  if(h.payloadBytes > maxMessageBytes)
                    {
                     h.failCode = SP_CLOSE_TOO_BIG;
                     h.failReason = "frame over the size limit";
                    }
   return true;
  }

class SpWsClient
  {
private:
   SpUrl             m_url;
   string            m_token;
   string            m_pinnedThumbprint;
   int               m_maxMessageBytes;
   int               m_state;
   int               m_socket;
   ByteBuffer        m_rx;
   ByteBuffer        m_tx;
   ByteBuffer        m_frame;
   ByteBuffer        m_control;
   ByteBuffer        m_mask;
   ByteBuffer        m_random;
   int               m_randomAt;
   SpHttpUpgrade     m_http;
   SpUpgradeAnswer   m_answer;
   SpWsFrameHead     m_head;
   string            m_expectedAccept;
   bool              m_assembling;
   bool              m_closeSent;
   long              m_nextConnectAtMs;
   long              m_backoffMs;
   long              m_stateSinceMs;
   long              m_lastReceivedMs;
   int               m_closeCode;
   string            m_closeReason;

   uchar             RandomByte(void)
     {
      if(m_randomAt >= m_random.Size())
        {
         m_random.Clear();
         PlatformRandomBytes(64, m_random);
         m_randomAt = 0;
        }
      uchar b = m_random.At(m_randomAt);
      m_randomAt++;
      return b;
     }

   /** Queue one frame; false when the send buffer is over its bound. */
   bool              QueueFrame(int opcode, const ByteBuffer &payload, int from, int count)
     {
      if(m_tx.Size() + count + 14 > SP_SEND_BUFFER_BYTES_MAX)
         return false;
      m_mask.Clear();
      for(int i = 0; i < 4; i++)
         m_mask.Push(RandomByte());
      SpWsEncodeFrame(opcode, payload, from, count, m_mask, 0, m_tx);
      return true;
     }

   /** Write what the socket takes now; false when the connection is gone. */
   bool              Flush(void)
     {
      if(m_socket <= 0 || m_tx.Size() == 0)
         return true;
      int sent = PlatformSocketSend(m_socket, m_tx, m_tx.Size());
      if(sent < 0)
         return false;
      if(sent > 0)
         m_tx.Consume(sent);
      return true;
     }

   void              CloseSocket(void)
     {
      if(m_socket > 0)
         PlatformSocketClose(m_socket);
      m_socket = -1;
      m_rx.Clear();
      m_tx.Clear();
      m_frame.Clear();
      m_assembling = false;
     }

   /** The connection is over: report `code`, retry after the backoff (or a delay the session sets). */
   int               Closed(long nowMs, int code, const string &reason)
     {
      CloseSocket();
      m_closeCode = code;
      m_closeReason = reason;
      if(m_state != SP_WS_STATE_STOPPED)
         m_state = SP_WS_STATE_IDLE;
      long jitter = (long)(RandomByte() % 64) * m_backoffMs / 256;
      m_nextConnectAtMs = nowMs + m_backoffMs + jitter;
      m_backoffMs = m_backoffMs * 2 > SP_RECONNECT_MAX_MS ? SP_RECONNECT_MAX_MS : m_backoffMs * 2;
      return SP_WS_EVENT_CLOSED;
     }

   /** Fail an open connection: send a close frame with `code` (best effort), then drop it. */
   int               Fail(long nowMs, int code, const string &reason)
     {
      if(m_state == SP_WS_STATE_OPEN && !m_closeSent)
        {
         m_control.Clear();
         m_control.Push((uchar)((code >> 8) & 0xFF));
         m_control.Push((uchar)(code & 0xFF));
         QueueFrame(SP_WS_OP_CLOSE, m_control, 0, m_control.Size());
         m_closeSent = true;
         Flush();
        }
      return Closed(nowMs, code, reason);
     }

   int               Connect(long nowMs)
     {
      string error = "";
      m_closeSent = false;
      m_assembling = false;
      m_rx.Clear();
      m_tx.Clear();
      m_socket = PlatformSocketOpen(m_url.host, m_url.port, m_url.tls, m_pinnedThumbprint, SP_CONNECT_TIMEOUT_MS, error);
      if(m_socket <= 0)
        {
         m_socket = -1;
         return Closed(nowMs, SP_CLOSE_CONNECT_FAILED, error);
        }
      ByteBuffer nonce;
      PlatformRandomBytes(16, nonce);
      string key = SpBase64Encode(nonce);
      m_expectedAccept = SpWebSocketAccept(key);
      m_tx.AppendString(m_http.Request(m_url.host, m_url.port, m_url.tls, m_url.path, m_token, key));
      m_state = SP_WS_STATE_UPGRADING;
      m_stateSinceMs = nowMs;
      m_lastReceivedMs = nowMs;
      if(!Flush())
         return Closed(nowMs, SP_CLOSE_CONNECT_FAILED, "CONNECTION_LOST: while sending the upgrade");
      return SP_WS_EVENT_NONE;
     }

   int               PollUpgrade(long nowMs)
     {
      if(!m_http.ParseHead(m_rx, m_expectedAccept, m_answer))
        {
         if(m_rx.Size() > SP_UPGRADE_RESPONSE_BYTES_MAX)
            return Closed(nowMs, SP_CLOSE_UPGRADE_REFUSED, "UPGRADE_INVALID: answer too long");
         return SP_WS_EVENT_NONE;
        }
      if(m_answer.status == 101 && m_answer.problem == "")
        {
         m_rx.Consume(m_answer.headerBytes);
         m_state = SP_WS_STATE_OPEN;
         m_stateSinceMs = nowMs;
         return SP_WS_EVENT_OPEN;
        }
      if(m_answer.status == 101)
         return Closed(nowMs, SP_CLOSE_UPGRADE_REFUSED, m_answer.problem);
      // A refusal: wait for its body (the JSON code), or the socket closing.
      m_state = SP_WS_STATE_REFUSED;
      return PollRefused(nowMs, false);
     }

   int               PollRefused(long nowMs, bool socketClosed)
     {
      int have = m_rx.Size() - m_answer.headerBytes;
      if(!socketClosed && have < m_answer.contentLength && m_rx.Size() <= SP_UPGRADE_RESPONSE_BYTES_MAX)
         return SP_WS_EVENT_NONE;
      string body = "";
      int take = have < m_answer.contentLength ? have : m_answer.contentLength;
      if(take > 0)
         m_rx.ToString(m_answer.headerBytes, take, body);
      m_answer.code = m_http.RefusalCode(body);
      return Closed(nowMs, SP_CLOSE_UPGRADE_REFUSED, m_answer.problem + (m_answer.code == "" ? "" : " " + m_answer.code));
     }

   /** One frame from m_rx: an event, or NONE when incomplete (or a control frame was handled). */
   int               PollFrame(long nowMs, ByteBuffer &message, bool &progressed)
     {
      progressed = false;
      if(!SpWsParseHead(m_rx, m_maxMessageBytes, m_head))
         return SP_WS_EVENT_NONE;
      if(m_head.failCode != 0)
         return Fail(nowMs, m_head.failCode, "PROTOCOL: " + m_head.failReason);
      int total = m_head.headerBytes + (int)m_head.payloadBytes;
      if(m_rx.Size() < total)
         return SP_WS_EVENT_NONE;
      progressed = true;
      int op = m_head.opcode;
      int payloadAt = m_head.headerBytes;
      int length = (int)m_head.payloadBytes;
      if(op == SP_WS_OP_PING)
        {
         m_control.Clear();
         m_control.AppendRange(m_rx, payloadAt, length);
         m_rx.Consume(total);
         if(!QueueFrame(SP_WS_OP_PONG, m_control, 0, m_control.Size()))
            return Fail(nowMs, SP_CLOSE_GOING_AWAY, "SEND_BUFFER_FULL");
         return SP_WS_EVENT_NONE;
        }
      if(op == SP_WS_OP_PONG)
        {
         m_rx.Consume(total);
         return SP_WS_EVENT_NONE;
        }
      if(op == SP_WS_OP_CLOSE)
        {
         if(length == 1)
            return Fail(nowMs, SP_CLOSE_PROTOCOL_ERROR, "PROTOCOL: close payload of one byte");
         int code = length >= 2 ? (m_rx.At(payloadAt) << 8) | m_rx.At(payloadAt + 1) : 1005;
         string reason = "";
         if(length > 2)
            m_rx.ToString(payloadAt + 2, length - 2, reason);
         if(!m_closeSent)
           {
            m_control.Clear();
            if(length >= 2)
              {
               m_control.Push((uchar)((code >> 8) & 0xFF));
               m_control.Push((uchar)(code & 0xFF));
              }
            QueueFrame(SP_WS_OP_CLOSE, m_control, 0, m_control.Size());
            m_closeSent = true;
            Flush();
           }
         return Closed(nowMs, code, reason);
        }
      // Data frames.
      if(op == SP_WS_OP_CONTINUATION && !m_assembling)
         return Fail(nowMs, SP_CLOSE_PROTOCOL_ERROR, "PROTOCOL: continuation without a message");
      if(op != SP_WS_OP_CONTINUATION && m_assembling)
         return Fail(nowMs, SP_CLOSE_PROTOCOL_ERROR, "PROTOCOL: new message inside a fragmented one");
      if(op == SP_WS_OP_TEXT)
         return Fail(nowMs, SP_CLOSE_UNSUPPORTED_DATA, "PROTOCOL: text message (sigplane frames are binary)");
      if(op != SP_WS_OP_CONTINUATION)
         m_frame.Clear();
      if(m_frame.Size() + length > m_maxMessageBytes)
         return Fail(nowMs, SP_CLOSE_TOO_BIG, "PROTOCOL: message over the size limit");
      m_frame.AppendRange(m_rx, payloadAt, length);
      m_rx.Consume(total);
      if(!m_head.fin)
        {
         m_assembling = true;
         return SP_WS_EVENT_NONE;
        }
      m_assembling = false;
      message.Clear();
      message.Append(m_frame);
      m_frame.Clear();
      return SP_WS_EVENT_MESSAGE;
     }

public:
                     SpWsClient(void)
     {
      m_state = SP_WS_STATE_STOPPED;
      m_socket = -1;
      m_maxMessageBytes = 0;
      m_randomAt = 0;
      m_assembling = false;
      m_closeSent = false;
      m_nextConnectAtMs = 0;
      m_backoffMs = SP_RECONNECT_MIN_MS;
      m_stateSinceMs = 0;
      m_lastReceivedMs = 0;
      m_closeCode = 0;
     }

   /** "" when the URL is usable; the client then connects at the next Poll. */
   string            Configure(const string &url, const string &expectedPath, const string &token, const string &pinnedThumbprint, int maxMessageBytes)
     {
      string problem = m_url.Parse(url, expectedPath);
      if(problem != "")
         return problem;
      if(StringLen(token) == 0)
         return "TOKEN_MISSING: the token input is empty";
      m_token = token;
      m_pinnedThumbprint = pinnedThumbprint;
      m_maxMessageBytes = maxMessageBytes;
      m_rx.Reserve(maxMessageBytes + SP_SOCKET_READ_CHUNK_BYTES + 16);
      m_frame.Reserve(maxMessageBytes + 16);
      m_tx.Reserve(SP_SEND_BUFFER_BYTES_MAX + 16);
      m_control.Reserve(SP_WS_CONTROL_PAYLOAD_MAX + 16);
      m_random.Reserve(64);
      m_mask.Reserve(4);
      m_state = SP_WS_STATE_IDLE;
      m_nextConnectAtMs = 0;
      return "";
     }

   bool              IsOpen(void) const { return m_state == SP_WS_STATE_OPEN; }
   int               CloseCode(void) const { return m_closeCode; }
   string            CloseReason(void) const { return m_closeReason; }
   /** The HTTP status and code of the last refused upgrade (0 and "" when it was not refused). */
   int               RefusedStatus(void) const { return m_answer.status == 101 ? 0 : m_answer.status; }
   string            RefusedCode(void) const { return m_answer.code; }
   int               RetryAfterSeconds(void) const { return m_answer.retryAfterSeconds; }
   long              NextConnectAtMs(void) const { return m_nextConnectAtMs; }
   int               PendingSendBytes(void) const { return m_tx.Size(); }

   /** After a refusal that will not change soon: the next attempt waits at least this long. */
   void              SetRetryDelay(long nowMs, long delayMs)
     {
      if(nowMs + delayMs > m_nextConnectAtMs)
         m_nextConnectAtMs = nowMs + delayMs;
     }

   /** A session got as far as the server's welcome: the next failure starts the backoff from the minimum. */
   void              MarkHealthy(void) { m_backoffMs = SP_RECONNECT_MIN_MS; }

   /** Connect when due, write, read, and return at most one event (callers call again until NONE). */
   int               Poll(long nowMs, ByteBuffer &message)
     {
      if(m_state == SP_WS_STATE_STOPPED)
         return SP_WS_EVENT_NONE;
      if(m_state == SP_WS_STATE_IDLE)
        {
         if(nowMs < m_nextConnectAtMs)
            return SP_WS_EVENT_NONE;
         int connected = Connect(nowMs);
         if(connected != SP_WS_EVENT_NONE)
            return connected;
        }
      if(!Flush())
         return Closed(nowMs, SP_CLOSE_ABNORMAL, "CONNECTION_LOST: write failed");
      if(m_state == SP_WS_STATE_OPEN)
        {
         int buffered = PollFrames(nowMs, message);
         if(buffered != SP_WS_EVENT_NONE)
            return buffered;
        }
      int read = PlatformSocketRead(m_socket, m_rx, SP_SOCKET_READ_CHUNK_BYTES);
      if(read < 0)
        {
         if(m_state == SP_WS_STATE_REFUSED)
            return PollRefused(nowMs, true);
         if(m_state == SP_WS_STATE_UPGRADING)
            return Closed(nowMs, SP_CLOSE_UPGRADE_REFUSED, "CONNECTION_LOST: closed during the upgrade");
         return Closed(nowMs, SP_CLOSE_ABNORMAL, "CONNECTION_LOST");
        }
      if(read > 0)
         m_lastReceivedMs = nowMs;
      if(m_state == SP_WS_STATE_UPGRADING)
        {
         if(nowMs - m_stateSinceMs > SP_WELCOME_TIMEOUT_MS)
            return Closed(nowMs, SP_CLOSE_UPGRADE_REFUSED, "UPGRADE_TIMEOUT");
         return PollUpgrade(nowMs);
        }
      if(m_state == SP_WS_STATE_REFUSED)
         return PollRefused(nowMs, false);
      if(nowMs - m_lastReceivedMs > SP_SILENCE_TIMEOUT_MS)
         return Fail(nowMs, SP_CLOSE_GOING_AWAY, "SILENCE: nothing received for " + IntegerToString(SP_SILENCE_TIMEOUT_MS) + " ms");
      if(read == 0)
         return SP_WS_EVENT_NONE;
      return PollFrames(nowMs, message);
     }

   /** Complete frames in the receive buffer: control frames are handled here, the first event is returned. */
   int               PollFrames(long nowMs, ByteBuffer &message)
     {
      bool progressed = true;
      while(progressed && m_state == SP_WS_STATE_OPEN && m_rx.Size() > 0)
        {
         int event = PollFrame(nowMs, message, progressed);
         if(event != SP_WS_EVENT_NONE)
            return event;
        }
      if(!Flush())
         return Closed(nowMs, SP_CLOSE_ABNORMAL, "CONNECTION_LOST: write failed");
      return SP_WS_EVENT_NONE;
     }

   /** Send one binary message; false when not open or the send buffer is full (then the connection is failing). */
   bool              SendBinary(const ByteBuffer &payload)
     {
      if(m_state != SP_WS_STATE_OPEN || m_closeSent)
         return false;
      if(!QueueFrame(SP_WS_OP_BINARY, payload, 0, payload.Size()))
         return false;
      return Flush();
     }

   /** Drop the connection now (the session found the server's answer unusable); it reconnects after the backoff. */
   int               Drop(long nowMs, int code, const string &reason)
     {
      if(m_state == SP_WS_STATE_OPEN)
         return Fail(nowMs, code, reason);
      return Closed(nowMs, code, reason);
     }

   /** For good (OnDeinit): a close frame 1001 if open, then the socket is closed. */
   void              Stop(void)
     {
      if(m_state == SP_WS_STATE_OPEN && !m_closeSent)
        {
         m_control.Clear();
         m_control.Push((uchar)((SP_CLOSE_GOING_AWAY >> 8) & 0xFF));
         m_control.Push((uchar)(SP_CLOSE_GOING_AWAY & 0xFF));
         QueueFrame(SP_WS_OP_CLOSE, m_control, 0, m_control.Size());
         m_closeSent = true;
         Flush();
        }
      m_state = SP_WS_STATE_STOPPED;
      CloseSocket();
     }
  };

#endif
