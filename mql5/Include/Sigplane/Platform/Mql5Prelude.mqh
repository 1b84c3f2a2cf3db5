// The MQL5 side of the common subset (MQL5 only: MetaEditor compiles it;
// cpp/prelude.hpp is the C++ side). What the shared code needs beyond the
// MQL5 built-ins it calls directly:
//
//   - ByteBuffer, the one growable byte array of the shared code, over a
//     dynamic uchar array. ArrayResize's reserve keeps its capacity: within
//     it no call reallocates, so the hot loop allocates nothing. Its
//     ArraySize is always its logical size (CryptEncode, DatabaseBindArray
//     and the socket functions take whole arrays).
//   - DoubleToBits / BitsToDouble, through a union.
//
// The methods under "platform access" are for Mql5Platform.mqh only.
#ifndef SIGPLANE_MQL5_PRELUDE_MQH
#define SIGPLANE_MQL5_PRELUDE_MQH

union SpDoubleBits
  {
   double            d;
   ulong             u;
  };

ulong DoubleToBits(double v)
  {
   SpDoubleBits b;
   b.d = v;
   return b.u;
  }

double BitsToDouble(ulong bits)
  {
   SpDoubleBits b;
   b.u = bits;
   return b.d;
  }

class ByteBuffer
  {
private:
   uchar             m_data[];
   uchar             m_scratch[];
   int               m_reserve;

public:
                     ByteBuffer(void) { m_reserve = 0; ArrayResize(m_data, 0); }

   void              Reserve(int capacity)
     {
      if(capacity <= m_reserve)
         return;
      m_reserve = capacity;
      ArrayResize(m_data, ArraySize(m_data), capacity);
     }
   int               Size(void) const { return ArraySize(m_data); }
   int               Capacity(void) const { return m_reserve; }
   void              Clear(void) { ArrayResize(m_data, 0, m_reserve); }
   bool              Resize(int size) { return size >= 0 && ArrayResize(m_data, size, m_reserve) == size; }
   uchar             At(int i) const { return m_data[i]; }
   void              Set(int i, uchar v) { m_data[i] = v; }
   void              Push(uchar v)
     {
      int n = ArraySize(m_data);
      ArrayResize(m_data, n + 1, m_reserve);
      m_data[n] = v;
     }
   void              Append(const ByteBuffer &src) { AppendRange(src, 0, src.Size()); }
   void              AppendRange(const ByteBuffer &src, int from, int count)
     {
      if(count <= 0)
         return;
      int n = ArraySize(m_data);
      ArrayResize(m_data, n + count, m_reserve);
      ArrayCopy(m_data, src.m_data, n, from, count);
     }
   /** Remove `count` bytes at the front. */
   void              Consume(int count)
     {
      int n = ArraySize(m_data);
      if(count >= n)
        {
         ArrayResize(m_data, 0, m_reserve);
         return;
        }
      ArrayCopy(m_data, m_data, 0, count, n - count);
      ArrayResize(m_data, n - count, m_reserve);
     }
   void              CopyFrom(const ByteBuffer &src)
     {
      ArrayResize(m_data, src.Size(), m_reserve);
      if(src.Size() > 0)
         ArrayCopy(m_data, src.m_data, 0, 0, src.Size());
     }
   bool              Equals(const ByteBuffer &other) const
     {
      if(Size() != other.Size())
         return false;
      for(int i = 0; i < Size(); i++)
         if(m_data[i] != other.m_data[i])
            return false;
      return true;
     }
   /** The UTF-8 bytes of `s` appended (without StringToCharArray's terminating zero). */
   void              AppendString(const string &s)
     {
      if(StringLen(s) == 0)
         return;
      int copied = StringToCharArray(s, m_scratch, 0, WHOLE_ARRAY, CP_UTF8);
      int count = copied > 0 && m_scratch[copied - 1] == 0 ? copied - 1 : copied;
      int n = ArraySize(m_data);
      ArrayResize(m_data, n + count, m_reserve);
      ArrayCopy(m_data, m_scratch, n, 0, count);
     }
   /** `count` bytes from `from` as text (UTF-8). */
   void              ToString(int from, int count, string &out) const
     {
      out = count > 0 ? CharArrayToString(m_data, from, count, CP_UTF8) : "";
     }

   // ---- platform access (Mql5Platform.mqh) ----

   /** digest := the hash of these bytes (CryptEncode: CRYPT_HASH_SHA256 or CRYPT_HASH_SHA1). */
   bool              HashInto(ENUM_CRYPT_METHOD method, ByteBuffer &digest) const
     {
      uchar noKey[];
      return CryptEncode(method, m_data, noKey, digest.m_data) > 0;
     }
   int               SendTo(int socket, bool tls, int count) const
     {
      return tls ? SocketTlsSend(socket, m_data, count) : SocketSend(socket, m_data, count);
     }
   /** Append what the socket has now (at most maxBytes): the count, 0 when nothing, -1 when the connection failed. */
   int               ReadFrom(int socket, bool tls, int maxBytes)
     {
      ArrayResize(m_scratch, 0, maxBytes);
      int got = 0;
      if(tls)
         got = SocketTlsReadAvailable(socket, m_scratch, maxBytes);
      else
        {
         uint ready = SocketIsReadable(socket);
         if(ready == 0)
            return SocketIsConnected(socket) ? 0 : -1;
         if(ready > (uint)maxBytes)
            ready = (uint)maxBytes;
         got = SocketRead(socket, m_scratch, ready, 1);
        }
      if(got <= 0)
         return got < 0 ? -1 : 0;
      int n = ArraySize(m_data);
      ArrayResize(m_data, n + got, m_reserve);
      ArrayCopy(m_data, m_scratch, n, 0, got);
      return got;
     }
   bool              BindTo(int request, int index) const { return DatabaseBindArray(request, index, m_data); }
   bool              ReadColumn(int request, int column) { return DatabaseColumnBlob(request, column, m_data); }
  };

#endif
