// How a receiver turns a master position into its own order: the rules of
// client/copy-rules.ts (docs/receivers.md), as pure functions of the copy
// settings, the broker's symbol specification, a quote, the equity and the
// time. The arithmetic is JavaScript's where the TypeScript rules depend on
// it (Math.round ties toward +infinity, Number(x.toFixed(d)) exact
// rounding), so both implementations size every copy alike;
// test/metatrader/copy-rules.test.ts compares them on random inputs.
//
// Order of checks for an open (the first failure is the skip reason):
// order type, symbol filter, magic filter, signal age, broker symbol,
// quote, price deviation, stop loss (RISK_PERCENT), lot size.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_COPY_RULES_MQH
#define SIGPLANE_COPY_RULES_MQH

#include <Sigplane/Platform.mqh>
#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>
#include <Sigplane/PlatformTypes.mqh>
#include <Sigplane/PrintfFixed.mqh>
#include <Sigplane/CopySettings.mqh>

// Skip reasons: stable codes (execution reports carry them; client/copy-rules.ts SkipReason).
#define SP_SKIP_NOT_A_POSITION "NOT_A_POSITION"
#define SP_SKIP_SYMBOL_NOT_ALLOWED "SYMBOL_NOT_ALLOWED"
#define SP_SKIP_SYMBOL_BLOCKED "SYMBOL_BLOCKED"
#define SP_SKIP_MAGIC_NOT_ALLOWED "MAGIC_NOT_ALLOWED"
#define SP_SKIP_MAGIC_BLOCKED "MAGIC_BLOCKED"
#define SP_SKIP_SIGNAL_TOO_OLD "SIGNAL_TOO_OLD"
#define SP_SKIP_SYMBOL_UNKNOWN "SYMBOL_UNKNOWN"
#define SP_SKIP_NO_QUOTE "NO_QUOTE"
#define SP_SKIP_PRICE_DEVIATION "PRICE_DEVIATION"
#define SP_SKIP_NO_STOP_LOSS "NO_STOP_LOSS"
#define SP_SKIP_LOT_BELOW_MIN "LOT_BELOW_MIN"
#define SP_SKIP_OPEN_POSITIONS_NOT_COPIED "OPEN_POSITIONS_NOT_COPIED"
#define SP_SKIP_BROKER_REJECTED "BROKER_REJECTED"

// ---- pip size (proto/pip-size.ts, without overrides) ----

/** Pip size of a symbol: metals, crypto, cash indices, JPY crosses, else 0.0001. First match wins, on the upper-cased symbol. */
double SpPipSize(const string &symbol)
  {
   string upper = SpUpper(symbol);
   if(SpStartsWith(upper, "XAU"))
      return 0.1;
   if(SpStartsWith(upper, "XAG"))
      return 0.01;
   if(SpStartsWith(upper, "BTC") || SpStartsWith(upper, "ETH"))
      return 1.0;
   string indices = "US30,US500,US100,USTEC,NAS100,NDX100,SPX500,SP500,DJ30,DJI30,GER40,GER30,DE40,DE30,DAX40,UK100,FTSE100,JP225,JPN225,NIKKEI225,FRA40,EU50,EUSTX50,STOXX50,AUS200,HK50,ESP35,CHINA50,US2000,";
   int from = 0;
   while(from < StringLen(indices))
     {
      int comma = StringFind(indices, ",", from);
      if(SpStartsWith(upper, StringSubstr(indices, from, comma - from)))
         return 1.0;
      from = comma + 1;
     }
   if(StringFind(upper, "JPY") >= 0)
      return 0.01;
   return 0.0001;
  }

// ---- JavaScript's rounding ----

/** Math.round: the nearest integer, halves toward +infinity. */
double SpJsRound(double x)
  {
   double f = MathFloor(x);
   return x - f >= 0.5 ? f + 1 : f;
  }

/** 10^d exactly (d <= 22). */
double SpPow10(int d)
  {
   double p = 1;
   for(int i = 0; i < d; i++)
      p = p * 10;
   return p;
  }

/** Number(x.toFixed(d)): x rounded to d decimals from its exact value (ties away from zero), as the nearest double. */
double SpToFixedNumber(double x, int d)
  {
   if(!MathIsValidNumber(x))
      return x;
   string text = SpFormatFixedMode(x, d, true);
   bool negative = SpStartsWith(text, "-");
   ulong k = 0;
   int digits = 0;
   for(int i = 0; i < StringLen(text); i++)
     {
      ushort c = StringGetCharacter(text, i);
      if(c < '0' || c > '9')
         continue;
      k = k * 10 + (ulong)(c - '0');
      digits++;
      if(digits > 15)
         return x;
     }
   double v = (double)k / SpPow10(d);
   return negative ? -v : v;
  }

/** Decimals of a step as JavaScript prints it (0.01 -> 2). */
int SpStepDecimals(double step)
  {
   for(int d = 0; d <= 17; d++)
     {
      double p = SpPow10(d);
      if(MathRound(step * p) / p == step)
         return d;
     }
   return 17;
  }

/** `volume` as a whole number of steps: nearest (Math.round), or down (never more risk than asked). */
double SpRoundToStep(double volume, double step, bool down)
  {
   double steps = volume / step;
   double n = down ? MathFloor(steps + SP_VOLUME_EPSILON) : SpJsRound(steps);
   return SpToFixedNumber(n * step, SpStepDecimals(step));
  }

/** Volumes after arithmetic, to 8 decimals (Math.round(v * 1e8) / 1e8). */
double SpRoundVolume(double v)
  {
   return SpJsRound(v * 100000000.0) / 100000000.0;
  }

// ---- the rules ----

/** A master position as the rules need it (a delivery's signal, or a snapshot position). */
class SpMasterPositionInput
  {
public:
   string            symbol;
   int               orderType;
   double            volume;
   /** The signal's price, or a snapshot position's open price. */
   double            price;
   double            stopLoss;
   double            takeProfit;
   ulong             magic;
                     SpMasterPositionInput(void) { symbol = ""; orderType = 0; volume = 0; price = 0; stopLoss = 0; takeProfit = 0; magic = 0; }
  };

class SpOpenPlan
  {
public:
   bool              open;
   string            symbol;
   int               orderType;
   double            volume;
   double            stopLoss;
   double            takeProfit;
   string            reason;
   string            detail;
                     SpOpenPlan(void) { Reset(); }
   void              Reset(void) { open = false; symbol = ""; orderType = 0; volume = 0; stopLoss = 0; takeProfit = 0; reason = ""; detail = ""; }
   void              Skip(const string &why, const string &what) { open = false; reason = why; detail = what; }
  };

/** Receiver symbol: the explicit map first, else prefix + master symbol + suffix. */
string SpMapSymbol(const SpCopySettings &s, const string &masterSymbol)
  {
   if(s.MapHas(masterSymbol))
      return s.MapLookup(masterSymbol);
   return s.symbolPrefix + masterSymbol + s.symbolSuffix;
  }

/** The filter that refuses this master symbol and magic, or "". */
string SpFilterReason(const SpCopySettings &s, const string &masterSymbol, ulong magic)
  {
   if(s.symbolsAllowedCount > 0 && !s.SymbolAllowedHas(masterSymbol))
      return SP_SKIP_SYMBOL_NOT_ALLOWED;
   if(s.SymbolBlockedHas(masterSymbol))
      return SP_SKIP_SYMBOL_BLOCKED;
   if(s.magicsAllowedCount > 0 && !s.MagicAllowedHas(magic))
      return SP_SKIP_MAGIC_NOT_ALLOWED;
   if(s.MagicBlockedHas(magic))
      return SP_SKIP_MAGIC_BLOCKED;
   return "";
  }

/** BUY <-> SELL when reversed. */
int SpLocalOrderType(bool reverse, int masterOrderType)
  {
   return reverse ? (masterOrderType == 0 ? 1 : 0) : masterOrderType;
  }

/** The receiver's stops: the master's, swapped when reversed, each 0 when its copy setting is off. */
void SpLocalStops(const SpCopySettings &s, bool reverse, double stopLoss, double takeProfit, double &sl, double &tp)
  {
   double a = reverse ? takeProfit : stopLoss;
   double b = reverse ? stopLoss : takeProfit;
   sl = s.copyStopLoss ? a : 0;
   tp = s.copyTakeProfit ? b : 0;
  }

/** The smallest and largest volume: the broker's, narrowed by the settings (0 = the broker's). */
void SpVolumeBounds(const SpCopySettings &s, const SpSymbolSpec &spec, double &min, double &max)
  {
   min = MathMax(s.lotMin, spec.volumeMin);
   double m = s.lotMax > 0 ? MathMin(s.lotMax, spec.volumeMax) : spec.volumeMax;
   max = SpRoundToStep(m, spec.volumeStep, true);
  }

/** The volume of a new copy; false (with the reason) when it is not copied. */
bool SpSizeVolume(const SpCopySettings &s, const SpMasterPositionInput &m, const SpSymbolSpec &spec, double equity, double &volume, string &reason, string &detail)
  {
   double raw = 0;
   if(s.lotMode == SP_LOT_MODE_FIXED)
      raw = s.lotValue;
   else
      if(s.lotMode == SP_LOT_MODE_EQUITY_RATIO)
         raw = (m.volume * s.lotValue * equity) / s.masterEquity;
      else
         if(s.lotMode == SP_LOT_MODE_RISK_PERCENT)
           {
            if(!(m.stopLoss > 0))
              {
               reason = SP_SKIP_NO_STOP_LOSS;
               detail = "RISK_PERCENT needs a stop loss";
               return false;
              }
            double lossPerLot = (MathAbs(m.price - m.stopLoss) / spec.tickSize) * spec.tickValue;
            raw = lossPerLot > 0 ? (equity * s.lotValue) / 100 / lossPerLot : 0;
           }
         else
            raw = m.volume * s.lotValue;
   double min = 0, max = 0;
   SpVolumeBounds(s, spec, min, max);
   double rounded = SpRoundToStep(raw, spec.volumeStep, s.lotMode == SP_LOT_MODE_RISK_PERCENT);
   volume = MathMin(rounded, max);
   if(volume < min - SP_VOLUME_EPSILON)
     {
      reason = SP_SKIP_LOT_BELOW_MIN;
      detail = DoubleToString(raw, 8) + " lots rounds below the minimum";
      return false;
     }
   return true;
  }

/** What a copy holds after the master's volume changed: the ratio it was opened with, within the bounds; 0 when the master holds nothing. */
double SpTargetVolume(double localOpenVolume, double masterOpenVolume, double masterVolume, const SpCopySettings &s, const SpSymbolSpec &spec)
  {
   if(masterVolume <= SP_VOLUME_EPSILON || !(masterOpenVolume > 0))
      return 0;
   double min = 0, max = 0;
   SpVolumeBounds(s, spec, min, max);
   double scaled = SpRoundToStep((localOpenVolume * masterVolume) / masterOpenVolume, spec.volumeStep, false);
   return MathMin(MathMax(scaled, min), max);
  }

/** The receiver's price against the master's, in pips of the master's symbol. */
double SpDeviationPips(const string &masterSymbol, double masterPrice, double bid, double ask, int orderType)
  {
   double ours = orderType == 0 ? ask : bid;
   return MathAbs(ours - masterPrice) / SpPipSize(masterSymbol);
  }

/** Open this master position on the receiver, or skip it with a reason (client/copy-rules.ts planOpen). */
void SpPlanOpen(const SpCopySettings &s, const SpMasterPositionInput &m, bool hasSpec, const SpSymbolSpec &spec, bool hasQuote, double bid, double ask,
                double equity, bool hasGeneratedAt, long generatedAtMs, long nowMs, SpOpenPlan &plan)
  {
   plan.Reset();
   if(m.orderType != 0 && m.orderType != 1)
     {
      plan.Skip(SP_SKIP_NOT_A_POSITION, "order type " + IntegerToString(m.orderType));
      return;
     }
   string filtered = SpFilterReason(s, m.symbol, m.magic);
   if(filtered != "")
     {
      plan.Skip(filtered, m.symbol + " magic " + SpUlongToDecimal(m.magic));
      return;
     }
   if(s.signalAgeMsMax > 0 && hasGeneratedAt && nowMs - generatedAtMs > s.signalAgeMsMax)
     {
      plan.Skip(SP_SKIP_SIGNAL_TOO_OLD, IntegerToString(nowMs - generatedAtMs) + " ms old");
      return;
     }
   string symbol = SpMapSymbol(s, m.symbol);
   if(!hasSpec)
     {
      plan.Skip(SP_SKIP_SYMBOL_UNKNOWN, symbol);
      return;
     }
   int orderType = SpLocalOrderType(s.reverse, m.orderType);
   if(s.priceDeviationPipsMax > 0)
     {
      if(!hasQuote)
        {
         plan.Skip(SP_SKIP_NO_QUOTE, symbol);
         return;
        }
      double pips = SpDeviationPips(m.symbol, m.price, bid, ask, orderType);
      if(pips > s.priceDeviationPipsMax)
        {
         plan.Skip(SP_SKIP_PRICE_DEVIATION, DoubleToString(pips, 1) + " pips from the master's price");
         return;
        }
     }
   double volume = 0;
   string reason = "", detail = "";
   if(!SpSizeVolume(s, m, spec, equity, volume, reason, detail))
     {
      plan.Skip(reason, detail);
      return;
     }
   plan.open = true;
   plan.symbol = symbol;
   plan.orderType = orderType;
   plan.volume = volume;
   SpLocalStops(s, s.reverse, m.stopLoss, m.takeProfit, plan.stopLoss, plan.takeProfit);
  }

#endif
