// `%.Nf` exactly as glibc's printf writes it: the exact binary value of the
// double, correctly rounded to N decimals, ties to even. v1 signatures
// cover volume and price formatted this way (docs/protocol.md), so a master
// must produce the server's bytes (proto/c-printf.ts) for every double.
//
// Why not MQL5's StringFormat("%.5f"): it formats through the terminal's C
// runtime, and the Windows C runtime changed how it rounds exact ties
// (Windows 10 version 2004 rounds them to even, as IEEE 754 and glibc do;
// earlier builds, and programs linked with the legacy rounding option,
// round them away from zero; later builds also follow fesetround). A tie is
// a value whose binary expansion ends exactly on the half: 0.015625 (1/64)
// is "0.01562" here and in glibc, "0.01563" under the old rule. So the
// formatting is done here, in integer arithmetic, the same on every
// terminal; test/metatrader/vectors.test.ts checks it against 24,000
// glibc outputs (test/fixtures/printf-5f.json) and the tie cases.
//
// How: a finite double is M * 2^E exactly (M < 2^53). The result is
// round_half_even(M * 10^N * 2^E) as a big integer, printed with N decimals.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_PRINTF_FIXED_MQH
#define SIGPLANE_PRINTF_FIXED_MQH

#include <Sigplane/Platform.mqh>

// 1100 bits: M * 10^N * 2^971 for N <= 20 fits (53 + 67 + 971 bits).
#define SP_BIGNAT_LIMBS 36
#define SP_PRINTF_DECIMALS_MAX 20

/** A non-negative integer in base 2^32 limbs, least significant first; fixed size. */
class SpBigNat
  {
private:
   uint              m_limbs[SP_BIGNAT_LIMBS];
   int               m_used;

public:
                     SpBigNat(void) { SetUlong(0); }

   void              SetUlong(ulong v)
     {
      for(int i = 0; i < SP_BIGNAT_LIMBS; i++)
         m_limbs[i] = 0;
      m_limbs[0] = (uint)(v & 0xFFFFFFFF);
      m_limbs[1] = (uint)(v >> 32);
      m_used = 2;
      Trim();
     }

   void              Trim(void)
     {
      while(m_used > 0 && m_limbs[m_used - 1] == 0)
         m_used--;
     }

   bool              IsZero(void) const { return m_used == 0; }

   void              MulSmall(uint factor)
     {
      ulong carry = 0;
      for(int i = 0; i < m_used; i++)
        {
         ulong p = (ulong)m_limbs[i] * (ulong)factor + carry;
         m_limbs[i] = (uint)(p & 0xFFFFFFFF);
         carry = p >> 32;
        }
      if(carry != 0 && m_used < SP_BIGNAT_LIMBS)
        {
         m_limbs[m_used] = (uint)carry;
         m_used++;
        }
     }

   /** this = this / divisor; returns the remainder. */
   uint              DivSmall(uint divisor)
     {
      ulong rem = 0;
      for(int i = m_used - 1; i >= 0; i--)
        {
         ulong cur = (rem << 32) | (ulong)m_limbs[i];
         m_limbs[i] = (uint)(cur / divisor);
         rem = cur % divisor;
        }
      Trim();
      return (uint)rem;
     }

   void              ShiftLeft(int bits)
     {
      if(m_used == 0 || bits <= 0)
         return;
      int limbs = bits / 32;
      int rest = bits % 32;
      int top = m_used + limbs + 1;
      if(top > SP_BIGNAT_LIMBS)
         top = SP_BIGNAT_LIMBS;
      for(int i = top - 1; i >= 0; i--)
        {
         ulong hi = 0;
         int src = i - limbs;
         if(src >= 0 && src < m_used)
            hi = ((ulong)m_limbs[src]) << rest;
         ulong lo = 0;
         if(rest > 0 && src - 1 >= 0 && src - 1 < m_used)
            lo = ((ulong)m_limbs[src - 1]) >> (32 - rest);
         m_limbs[i] = (uint)((hi | lo) & 0xFFFFFFFF);
        }
      m_used = top;
      Trim();
     }

   /** this = this >> bits (bits < 32 * SP_BIGNAT_LIMBS). */
   void              ShiftRight(int bits)
     {
      if(bits <= 0)
         return;
      int limbs = bits / 32;
      int rest = bits % 32;
      for(int i = 0; i < SP_BIGNAT_LIMBS; i++)
        {
         int src = i + limbs;
         ulong lo = src < m_used ? (ulong)m_limbs[src] : 0;
         ulong hi = src + 1 < m_used ? (ulong)m_limbs[src + 1] : 0;
         ulong v = rest == 0 ? lo : ((lo >> rest) | (hi << (32 - rest)));
         m_limbs[i] = (uint)(v & 0xFFFFFFFF);
        }
      m_used = m_used - limbs;
      if(m_used < 0)
         m_used = 0;
      Trim();
     }

   bool              Bit(int index) const
     {
      int limb = index / 32;
      if(index < 0 || limb >= m_used)
         return false;
      return ((m_limbs[limb] >> (index % 32)) & 1) != 0;
     }

   /** Whether any bit below `index` is set. */
   bool              AnyBitBelow(int index) const
     {
      for(int i = 0; i < index; i++)
         if(Bit(i))
            return true;
      return false;
     }

   void              AddOne(void)
     {
      for(int i = 0; i < SP_BIGNAT_LIMBS; i++)
        {
         m_limbs[i] = m_limbs[i] + 1;
         if(m_limbs[i] != 0)
           {
            if(i + 1 > m_used)
               m_used = i + 1;
            return;
           }
        }
     }

   int               BitLength(void) const
     {
      if(m_used == 0)
         return 0;
      int bits = (m_used - 1) * 32;
      uint top = m_limbs[m_used - 1];
      while(top != 0)
        {
         bits++;
         top = top >> 1;
        }
      return bits;
     }
  };

/**
 * The exact value rounded to `decimals`: exact ties to even (printf), or
 * away from zero (JavaScript's toFixed, which the copy rules mirror).
 */
string SpFormatFixedMode(double value, int decimals, bool tiesAwayFromZero)
  {
   ulong bits = DoubleToBits(value);
   bool negative = (bits >> 63) != 0;
   int exponentBits = (int)((bits >> 52) & 0x7FF);
   ulong fraction = bits & (ulong)0xFFFFFFFFFFFFF;
   string sign = negative ? "-" : "";
   if(exponentBits == 0x7FF)
      return fraction != 0 ? sign + "nan" : sign + "inf";
   if(decimals < 0)
      decimals = 0;
   if(decimals > SP_PRINTF_DECIMALS_MAX)
      decimals = SP_PRINTF_DECIMALS_MAX;
   ulong mantissa = exponentBits == 0 ? fraction : (fraction | ((ulong)1 << 52));
   int exponent = exponentBits == 0 ? -1074 : exponentBits - 1075;
   SpBigNat n;
   n.SetUlong(mantissa);
   for(int i = 0; i < decimals; i++)
      n.MulSmall(10);
   if(exponent >= 0)
      n.ShiftLeft(exponent);
   else
     {
      int k = -exponent;
      if(k > n.BitLength() + 1)
         n.SetUlong(0);
      else
        {
         bool half = n.Bit(k - 1);
         bool below = n.AnyBitBelow(k - 1);
         n.ShiftRight(k);
         if(half && (below || tiesAwayFromZero || n.Bit(0)))
            n.AddOne();
        }
     }
   // Decimal digits of n, least significant first, nine at a time.
   string digits = "";
   while(!n.IsZero())
     {
      uint chunk = n.DivSmall(1000000000);
      string part = IntegerToString((long)chunk);
      if(!n.IsZero())
         while(StringLen(part) < 9)
            part = "0" + part;
      digits = part + digits;
     }
   while(StringLen(digits) < decimals + 1)
      digits = "0" + digits;
   int whole = StringLen(digits) - decimals;
   if(decimals == 0)
      return sign + digits;
   return sign + StringSubstr(digits, 0, whole) + "." + StringSubstr(digits, whole);
  }

/** `value` as printf("%.<decimals>f") writes it under glibc (decimals 0..20). */
string SpFormatFixed(double value, int decimals)
  {
   return SpFormatFixedMode(value, decimals, false);
  }

#endif
