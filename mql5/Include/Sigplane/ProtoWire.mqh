// Protocol Buffers wire format (proto3), by hand: varints, 64-bit little
// endian doubles, length-delimited strings, bytes and nested messages.
// Frames.mqh uses these for exactly the messages the EAs exchange; the
// schema stays proto/sigplane.proto (test/metatrader/proto-fields.test.ts
// fails when a field the EAs use changes there).
//
// The writer appends to a ByteBuffer; a nested message is written in place
// and its length put in front afterwards (BeginMessage / EndMessage). The
// reader walks a range of a ByteBuffer and skips fields it does not know,
// as proto3 requires; any malformed input stops it (Ok() false).
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_PROTO_WIRE_MQH
#define SIGPLANE_PROTO_WIRE_MQH

#include <Sigplane/Platform.mqh>

#define SP_WIRE_VARINT 0
#define SP_WIRE_FIXED64 1
#define SP_WIRE_LENGTH 2
#define SP_WIRE_FIXED32 5

class SpProtoWriter
  {
public:
   void              Varint(ByteBuffer &out, ulong v)
     {
      while(v >= 0x80)
        {
         out.Push((uchar)((v & 0x7F) | 0x80));
         v = v >> 7;
        }
      out.Push((uchar)v);
     }

   void              Tag(ByteBuffer &out, int field, int wireType)
     {
      Varint(out, (ulong)(field << 3 | wireType));
     }

   /** uint64 / uint32 / enum / bool field; proto3 omits zero. */
   void              Uint(ByteBuffer &out, int field, ulong v)
     {
      if(v == 0)
         return;
      Tag(out, field, SP_WIRE_VARINT);
      Varint(out, v);
     }

   /** int64 / int32 field (a negative value is ten bytes, two's complement). */
   void              Int(ByteBuffer &out, int field, long v)
     {
      if(v == 0)
         return;
      Tag(out, field, SP_WIRE_VARINT);
      Varint(out, (ulong)v);
     }

   void              Bool(ByteBuffer &out, int field, bool v)
     {
      if(!v)
         return;
      Tag(out, field, SP_WIRE_VARINT);
      out.Push(1);
     }

   void              Double(ByteBuffer &out, int field, double v)
     {
      ulong bits = DoubleToBits(v);
      if(bits == 0)
         return;
      Tag(out, field, SP_WIRE_FIXED64);
      for(int i = 0; i < 8; i++)
         out.Push((uchar)((bits >> (8 * i)) & 0xFF));
     }

   void              String(ByteBuffer &out, int field, const string &v)
     {
      if(StringLen(v) == 0)
         return;
      int start = BeginMessage(out, field);
      out.AppendString(v);
      EndMessage(out, start);
     }

   void              Bytes(ByteBuffer &out, int field, const ByteBuffer &v, int from, int count)
     {
      if(count == 0)
         return;
      Tag(out, field, SP_WIRE_LENGTH);
      Varint(out, (ulong)count);
      out.AppendRange(v, from, count);
     }

   /** Start a length-delimited field; returns where its content starts (for EndMessage). */
   int               BeginMessage(ByteBuffer &out, int field)
     {
      Tag(out, field, SP_WIRE_LENGTH);
      out.Push(0); // the length, one byte for now
      return out.Size();
     }

   /** Put the content's length in front of it (moving the content when the length needs more than a byte). */
   void              EndMessage(ByteBuffer &out, int start)
     {
      int length = out.Size() - start;
      if(length < 0x80)
        {
         out.Set(start - 1, (uchar)length);
         return;
        }
      int extra = 0;
      for(int v = length >> 7; v > 0; v = v >> 7)
         extra++;
      int end = out.Size();
      out.Resize(end + extra);
      for(int i = end - 1; i >= start; i--)
         out.Set(i + extra, out.At(i));
      int at = start - 1;
      ulong v = (ulong)length;
      while(v >= 0x80)
        {
         out.Set(at, (uchar)((v & 0x7F) | 0x80));
         v = v >> 7;
         at++;
        }
      out.Set(at, (uchar)v);
     }
  };

class SpProtoReader
  {
private:
   int               m_pos;
   int               m_end;
   bool              m_ok;
   int               m_field;
   int               m_wireType;

public:
                     SpProtoReader(void) { Reset(0, 0); }

   void              Reset(int from, int end)
     {
      m_pos = from;
      m_end = end;
      m_ok = true;
      m_field = 0;
      m_wireType = 0;
     }

   bool              Ok(void) const { return m_ok; }
   int               Field(void) const { return m_field; }
   int               WireType(void) const { return m_wireType; }
   int               Position(void) const { return m_pos; }

   bool              Fail(void)
     {
      m_ok = false;
      return false;
     }

   /** The next field's tag; false at the end of the range or on malformed input (then Ok() is false). */
   bool              Next(const ByteBuffer &in)
     {
      if(!m_ok || m_pos >= m_end)
         return false;
      ulong tag = 0;
      if(!Varint(in, tag))
         return false;
      m_field = (int)(tag >> 3);
      m_wireType = (int)(tag & 7);
      if(m_field < 1 || tag > (ulong)0xFFFFFFFF)
         return Fail();
      return true;
     }

   bool              Varint(const ByteBuffer &in, ulong &v)
     {
      v = 0;
      for(int shift = 0; shift < 64; shift += 7)
        {
         if(m_pos >= m_end)
            return Fail();
         int b = in.At(m_pos);
         m_pos++;
         v = v | (((ulong)(b & 0x7F)) << shift);
         if((b & 0x80) == 0)
            return true;
        }
      return Fail();
     }

   /** The current field as an unsigned varint (uint64, uint32, enum, bool). */
   ulong             ReadUint(const ByteBuffer &in)
     {
      ulong v = 0;
      if(m_wireType != SP_WIRE_VARINT)
        {
         Fail();
         return 0;
        }
      Varint(in, v);
      return v;
     }

   long              ReadInt(const ByteBuffer &in)
     {
      return (long)ReadUint(in);
     }

   bool              ReadBool(const ByteBuffer &in)
     {
      return ReadUint(in) != 0;
     }

   double            ReadDouble(const ByteBuffer &in)
     {
      if(m_wireType != SP_WIRE_FIXED64 || m_pos + 8 > m_end)
        {
         Fail();
         return 0;
        }
      ulong bits = 0;
      for(int i = 0; i < 8; i++)
         bits = bits | (((ulong)in.At(m_pos + i)) << (8 * i));
      m_pos += 8;
      return BitsToDouble(bits);
     }

   /** The current length-delimited field: its content is [start, start + length); the reader moves past it. */
   bool              ReadLength(const ByteBuffer &in, int &start, int &length)
     {
      ulong n = 0;
      if(m_wireType != SP_WIRE_LENGTH || !Varint(in, n))
         return Fail();
      if(n > (ulong)(m_end - m_pos))
         return Fail();
      start = m_pos;
      length = (int)n;
      m_pos += length;
      return true;
     }

   void              ReadString(const ByteBuffer &in, string &out)
     {
      int start = 0, length = 0;
      if(ReadLength(in, start, length))
         in.ToString(start, length, out);
     }

   /** Skip the current field, whatever it is. */
   void              Skip(const ByteBuffer &in)
     {
      ulong v = 0;
      int start = 0, length = 0;
      if(m_wireType == SP_WIRE_VARINT)
         Varint(in, v);
      else
         if(m_wireType == SP_WIRE_FIXED64)
           {
            if(m_pos + 8 > m_end)
               Fail();
            else
               m_pos += 8;
           }
         else
            if(m_wireType == SP_WIRE_LENGTH)
               ReadLength(in, start, length);
            else
               if(m_wireType == SP_WIRE_FIXED32)
                 {
                  if(m_pos + 4 > m_end)
                     Fail();
                  else
                     m_pos += 4;
                 }
               else
                  Fail();
     }
  };

#endif
