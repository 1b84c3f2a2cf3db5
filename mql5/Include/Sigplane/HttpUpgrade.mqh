// The WebSocket opening handshake (RFC 6455 section 4): the client's
// upgrade request, with the token in the Authorization header (never in
// the URL), and the check of the server's answer: 101, Upgrade: websocket,
// Connection: Upgrade, and Sec-WebSocket-Accept =
// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). Any other
// answer fails the connection; a refusal's JSON body {"code": "..."} names
// why (docs/protocol.md, "Connecting").
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_HTTP_UPGRADE_MQH
#define SIGPLANE_HTTP_UPGRADE_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/Base64.mqh>

#define SP_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2). */
string SpWebSocketAccept(const string &key)
  {
   ByteBuffer data;
   ByteBuffer digest;
   data.AppendString(key + SP_WS_GUID);
   PlatformSha1(data, digest);
   return SpBase64Encode(digest);
  }

/** What the server answered to the upgrade. */
class SpUpgradeAnswer
  {
public:
   /** HTTP status; 0 while the headers are incomplete. */
   int               status;
   /** Bytes of the status line and headers, blank line included. */
   int               headerBytes;
   /** The refusal's code from its JSON body, "" when none. */
   string            code;
   /** Retry-After (seconds) of a 429; 0 when absent. */
   int               retryAfterSeconds;
   /** "" when a 101 passed every check, else the failed check. */
   string            problem;
   int               contentLength;
   string            headers;

                     SpUpgradeAnswer(void) { Reset(); }
   void              Reset(void)
     {
      status = 0;
      headerBytes = 0;
      code = "";
      retryAfterSeconds = 0;
      problem = "";
      contentLength = 0;
      headers = "";
     }
  };

class SpHttpUpgrade
  {
public:
   /** The request for `path` on host:port with `token`; `key` is the Sec-WebSocket-Key sent. */
   string            Request(const string &host, int port, bool tls, const string &path, const string &token, const string &key)
     {
      string hostHeader = host;
      if((tls && port != 443) || (!tls && port != 80))
         hostHeader = host + ":" + IntegerToString(port);
      return "GET " + path + " HTTP/1.1\r\n" +
             "Host: " + hostHeader + "\r\n" +
             "Upgrade: websocket\r\n" +
             "Connection: Upgrade\r\n" +
             "Sec-WebSocket-Key: " + key + "\r\n" +
             "Sec-WebSocket-Version: 13\r\n" +
             "Authorization: Bearer " + token + "\r\n" +
             "User-Agent: sigplane-mql5/1\r\n" +
             "\r\n";
     }

   /** The value of header `name` (lower case) in `headers`, "" when absent. */
   string            Header(const string &headers, const string &name)
     {
      int from = 0;
      int n = StringLen(headers);
      while(from < n)
        {
         int end = StringFind(headers, "\r\n", from);
         if(end < 0)
            end = n;
         string line = StringSubstr(headers, from, end - from);
         int colon = StringFind(line, ":");
         if(colon > 0 && SpLower(SpTrim(StringSubstr(line, 0, colon))) == name)
            return SpTrim(StringSubstr(line, colon + 1));
         from = end + 2;
        }
      return "";
     }

   /**
    * Parse the answer in `rx` (from its start). False while the status line
    * and headers are not complete; then `answer` says what came.
    */
   bool              ParseHead(const ByteBuffer &rx, const string &expectedAccept, SpUpgradeAnswer &answer)
     {
      int end = -1;
      for(int i = 3; i < rx.Size(); i++)
         if(rx.At(i) == '\n' && rx.At(i - 1) == '\r' && rx.At(i - 2) == '\n' && rx.At(i - 3) == '\r')
           {
            end = i + 1;
            break;
           }
      if(end < 0)
         return false;
      answer.Reset();
      answer.headerBytes = end;
      string head = "";
      rx.ToString(0, end, head);
      int lineEnd = StringFind(head, "\r\n");
      string statusLine = StringSubstr(head, 0, lineEnd);
      answer.headers = StringSubstr(head, lineEnd + 2);
      if(!SpStartsWith(statusLine, "HTTP/1.1 ") || StringLen(statusLine) < 12)
        {
         answer.status = 999;
         answer.problem = "UPGRADE_NOT_HTTP: " + statusLine;
         return true;
        }
      int status = 0;
      if(!SpParseInt(StringSubstr(statusLine, 9, 3), 100, 599, status))
        {
         answer.status = 999;
         answer.problem = "UPGRADE_NOT_HTTP: " + statusLine;
         return true;
        }
      answer.status = status;
      int length = 0;
      if(SpParseInt(Header(answer.headers, "content-length"), 0, 1000000, length))
         answer.contentLength = length;
      int retry = 0;
      if(SpParseInt(Header(answer.headers, "retry-after"), 0, 86400, retry))
         answer.retryAfterSeconds = retry;
      if(status != 101)
        {
         answer.problem = "UPGRADE_REFUSED: HTTP " + IntegerToString(status);
         return true;
        }
      if(SpLower(Header(answer.headers, "upgrade")) != "websocket")
         answer.problem = "UPGRADE_INVALID: no Upgrade: websocket";
      else
         if(StringFind(SpLower(Header(answer.headers, "connection")), "upgrade") < 0)
            answer.problem = "UPGRADE_INVALID: no Connection: Upgrade";
         else
            if(Header(answer.headers, "sec-websocket-accept") != expectedAccept)
               answer.problem = "UPGRADE_INVALID: Sec-WebSocket-Accept does not match the key";
            else
               if(Header(answer.headers, "sec-websocket-extensions") != "" || Header(answer.headers, "sec-websocket-protocol") != "")
                  answer.problem = "UPGRADE_INVALID: an extension or subprotocol that was not offered";
      return true;
     }

   /** The "code" of a JSON refusal body {"code":"..."}; "" when none. */
   string            RefusalCode(const string &body)
     {
      int at = StringFind(body, "\"code\"");
      if(at < 0)
         return "";
      int open = StringFind(body, "\"", at + 6);
      if(open < 0)
         return "";
      int close = StringFind(body, "\"", open + 1);
      if(close < 0)
         return "";
      string code = StringSubstr(body, open + 1, close - open - 1);
      return SpMatchesCharset(code, "_", 1, 64) ? code : "";
     }
  };

#endif
