// Base64 (RFC 4648, with padding): the WebSocket key and the
// Sec-WebSocket-Accept check of the upgrade (RFC 6455 4.1, 4.2.2).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_BASE64_MQH
#define SIGPLANE_BASE64_MQH

#include <Sigplane/Platform.mqh>

ushort SpBase64Char(int index)
  {
   if(index < 26)
      return (ushort)('A' + index);
   if(index < 52)
      return (ushort)('a' + index - 26);
   if(index < 62)
      return (ushort)('0' + index - 52);
   return (ushort)(index == 62 ? '+' : '/');
  }

/** Base64 of `bytes`. */
string SpBase64Encode(const ByteBuffer &bytes)
  {
   string out = "";
   int n = bytes.Size();
   for(int i = 0; i < n; i += 3)
     {
      int b0 = bytes.At(i);
      int b1 = i + 1 < n ? bytes.At(i + 1) : 0;
      int b2 = i + 2 < n ? bytes.At(i + 2) : 0;
      int triple = (b0 << 16) | (b1 << 8) | b2;
      out += ShortToString(SpBase64Char((triple >> 18) & 63));
      out += ShortToString(SpBase64Char((triple >> 12) & 63));
      out += i + 1 < n ? ShortToString(SpBase64Char((triple >> 6) & 63)) : "=";
      out += i + 2 < n ? ShortToString(SpBase64Char(triple & 63)) : "=";
     }
   return out;
  }

#endif
