// Text helpers the wire needs exactly: decimal uint64 (position ids and
// magic numbers are full uint64 on the wire, beyond what IntegerToString
// prints), lowercase hex, and the character classes of the server's field
// rules. ASCII only: every identifier the protocol carries is ASCII.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_TEXT_MQH
#define SIGPLANE_TEXT_MQH

#include <Sigplane/Platform.mqh>

/** Decimal text of a uint64. */
string SpUlongToDecimal(ulong value)
  {
   if(value == 0)
      return "0";
   string digits = "";
   while(value > 0)
     {
      int digit = (int)(value % 10);
      digits = ShortToString((ushort)('0' + digit)) + digits;
      value = value / 10;
     }
   return digits;
  }

/** Decimal text of an int64. */
string SpLongToDecimal(long value)
  {
   return IntegerToString(value);
  }

/** A canonical decimal uint64 ("0" or no leading zero, at most 2^64-1); false otherwise. */
bool SpParseUlong(const string &text, ulong &value)
  {
   int n = StringLen(text);
   if(n == 0 || n > 20)
      return false;
   if(n > 1 && StringGetCharacter(text, 0) == '0')
      return false;
   ulong result = 0;
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(c < '0' || c > '9')
         return false;
      ulong digit = (ulong)(c - '0');
      // result * 10 + digit <= 2^64-1
      if(result > (ulong)1844674407370955161 || (result == (ulong)1844674407370955161 && digit > 5))
         return false;
      result = result * 10 + digit;
     }
   value = result;
   return true;
  }

/** A decimal int in [min, max]; false otherwise. */
bool SpParseInt(const string &text, int min, int max, int &value)
  {
   ulong v = 0;
   if(!SpParseUlong(text, v) || v > (ulong)2147483647)
      return false;
   if((long)v < (long)min || (long)v > (long)max)
      return false;
   value = (int)v;
   return true;
  }

ushort SpHexDigit(int nibble)
  {
   if(nibble < 10)
      return (ushort)('0' + nibble);
   return (ushort)('a' + nibble - 10);
  }

/** Lowercase hex of `count` bytes of `bytes` from `from`. */
string SpBytesToHex(const ByteBuffer &bytes, int from, int count)
  {
   string out = "";
   for(int i = from; i < from + count; i++)
     {
      int b = bytes.At(i);
      out += ShortToString(SpHexDigit(b >> 4)) + ShortToString(SpHexDigit(b & 15));
     }
   return out;
  }

int SpHexValue(ushort c)
  {
   if(c >= '0' && c <= '9')
      return c - '0';
   if(c >= 'a' && c <= 'f')
      return c - 'a' + 10;
   if(c >= 'A' && c <= 'F')
      return c - 'A' + 10;
   return -1;
  }

/** Hex text (either case) appended to `out` as bytes; false (and `out` unchanged) when it is not hex of whole bytes. */
bool SpHexToBytes(const string &hex, ByteBuffer &out)
  {
   int n = StringLen(hex);
   if(n % 2 != 0)
      return false;
   for(int i = 0; i < n; i++)
      if(SpHexValue(StringGetCharacter(hex, i)) < 0)
         return false;
   for(int i = 0; i < n; i += 2)
      out.Push((uchar)(SpHexValue(StringGetCharacter(hex, i)) * 16 + SpHexValue(StringGetCharacter(hex, i + 1))));
   return true;
  }

bool SpIsAsciiLetterOrDigit(ushort c)
  {
   return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  }

/** Every character of `text` is a letter, a digit or one of `extra`; length in [minChars, maxChars]. */
bool SpMatchesCharset(const string &text, const string &extra, int minChars, int maxChars)
  {
   int n = StringLen(text);
   if(n < minChars || n > maxChars)
      return false;
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(SpIsAsciiLetterOrDigit(c))
         continue;
      if(StringFind(extra, ShortToString(c)) < 0)
         return false;
     }
   return true;
  }

/** The subscription id's first six hex digits, dashes removed (the copier's order comment key). */
string SpShortSubscription(const string &subscriptionId)
  {
   string out = "";
   int n = StringLen(subscriptionId);
   for(int i = 0; i < n && StringLen(out) < 6; i++)
     {
      ushort c = StringGetCharacter(subscriptionId, i);
      if(c != '-')
         out += ShortToString(c);
     }
   return out;
  }

/** `value` in base 36, lowercase (JavaScript's Number.prototype.toString(36) for a non-negative integer). */
string SpBase36(ulong value)
  {
   if(value == 0)
      return "0";
   string digits = "";
   while(value > 0)
     {
      int d = (int)(value % 36);
      ushort c = (ushort)(d < 10 ? '0' + d : 'a' + d - 10);
      digits = ShortToString(c) + digits;
      value = value / 36;
     }
   return digits;
  }

bool SpStartsWith(const string &text, const string &prefix)
  {
   int n = StringLen(prefix);
   if(StringLen(text) < n)
      return false;
   return StringSubstr(text, 0, n) == prefix;
  }

/** ASCII upper case of a copy. */
string SpUpper(const string &text)
  {
   string copy = text;
   StringToUpper(copy);
   return copy;
  }

/** ASCII lower case of a copy. */
string SpLower(const string &text)
  {
   string out = "";
   int n = StringLen(text);
   for(int i = 0; i < n; i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(c >= 'A' && c <= 'Z')
         c = (ushort)(c - 'A' + 'a');
      out += ShortToString(c);
     }
   return out;
  }

/** `text` without spaces and tabs at both ends. */
string SpTrim(const string &text)
  {
   int from = 0;
   int to = StringLen(text);
   while(from < to && (StringGetCharacter(text, from) == ' ' || StringGetCharacter(text, from) == '\t'))
      from++;
   while(to > from && (StringGetCharacter(text, to - 1) == ' ' || StringGetCharacter(text, to - 1) == '\t'))
      to--;
   return StringSubstr(text, from, to - from);
  }

/** Constant time over the longer of the two: whether two byte arrays are equal (MACs). */
bool SpConstantTimeEquals(const ByteBuffer &a, const ByteBuffer &b)
  {
   int n = a.Size() > b.Size() ? a.Size() : b.Size();
   int diff = a.Size() ^ b.Size();
   for(int i = 0; i < n; i++)
     {
      int x = i < a.Size() ? a.At(i) : 0;
      int y = i < b.Size() ? b.At(i) : 0;
      diff = diff | (x ^ y);
     }
   return diff == 0;
  }

#endif
