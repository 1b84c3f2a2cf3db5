// A receiver license's copy settings (proto CopySettings, sent by the
// server as ReceiverSettings) and the checks the TypeScript client makes on
// them (proto/receiver-settings.ts resolveCopySettings): the same rules, so
// a receiver never executes with settings the server's own validation would
// refuse. docs/receivers.md describes each setting.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_COPY_SETTINGS_MQH
#define SIGPLANE_COPY_SETTINGS_MQH

#include <Sigplane/Limits.mqh>
#include <Sigplane/Text.mqh>

// proto LotMode
#define SP_LOT_MODE_UNSPECIFIED 0
#define SP_LOT_MODE_FIXED 1
#define SP_LOT_MODE_MULTIPLIER 2
#define SP_LOT_MODE_EQUITY_RATIO 3
#define SP_LOT_MODE_RISK_PERCENT 4

class SpCopySettings
  {
public:
   string            symbolPrefix;
   string            symbolSuffix;
   string            mapFrom[SP_SETTINGS_LIST_MAX];
   string            mapTo[SP_SETTINGS_LIST_MAX];
   int               mapCount;
   int               lotMode;
   double            lotValue;
   double            masterEquity;
   double            lotMin;
   double            lotMax;
   bool              reverse;
   bool              copyStopLoss;
   bool              copyTakeProfit;
   string            symbolsAllowed[SP_SETTINGS_LIST_MAX];
   int               symbolsAllowedCount;
   string            symbolsBlocked[SP_SETTINGS_LIST_MAX];
   int               symbolsBlockedCount;
   ulong             magicsAllowed[SP_SETTINGS_LIST_MAX];
   int               magicsAllowedCount;
   ulong             magicsBlocked[SP_SETTINGS_LIST_MAX];
   int               magicsBlockedCount;
   double            priceDeviationPipsMax;
   long              signalAgeMsMax;
   bool              copyOpenPositions;
   /** Set while decoding: a list or map had more entries than the arrays hold. */
   bool              overflow;

                     SpCopySettings(void) { Reset(); }

   /** The defaults (proto/receiver-settings.ts copySettingsDefaults). */
   void              Reset(void)
     {
      symbolPrefix = "";
      symbolSuffix = "";
      mapCount = 0;
      lotMode = SP_LOT_MODE_MULTIPLIER;
      lotValue = 1;
      masterEquity = 0;
      lotMin = 0;
      lotMax = 0;
      reverse = false;
      copyStopLoss = true;
      copyTakeProfit = true;
      symbolsAllowedCount = 0;
      symbolsBlockedCount = 0;
      magicsAllowedCount = 0;
      magicsBlockedCount = 0;
      priceDeviationPipsMax = 0;
      signalAgeMsMax = 0;
      copyOpenPositions = true;
      overflow = false;
     }

   /** All zero, as a decoder starts (proto3 defaults). */
   void              Zero(void)
     {
      Reset();
      lotMode = SP_LOT_MODE_UNSPECIFIED;
      lotValue = 0;
      copyStopLoss = false;
      copyTakeProfit = false;
      copyOpenPositions = false;
     }

   void              CopyFrom(const SpCopySettings &o)
     {
      symbolPrefix = o.symbolPrefix;
      symbolSuffix = o.symbolSuffix;
      mapCount = o.mapCount;
      for(int i = 0; i < o.mapCount; i++)
        {
         mapFrom[i] = o.mapFrom[i];
         mapTo[i] = o.mapTo[i];
        }
      lotMode = o.lotMode;
      lotValue = o.lotValue;
      masterEquity = o.masterEquity;
      lotMin = o.lotMin;
      lotMax = o.lotMax;
      reverse = o.reverse;
      copyStopLoss = o.copyStopLoss;
      copyTakeProfit = o.copyTakeProfit;
      symbolsAllowedCount = o.symbolsAllowedCount;
      for(int i = 0; i < o.symbolsAllowedCount; i++)
         symbolsAllowed[i] = o.symbolsAllowed[i];
      symbolsBlockedCount = o.symbolsBlockedCount;
      for(int i = 0; i < o.symbolsBlockedCount; i++)
         symbolsBlocked[i] = o.symbolsBlocked[i];
      magicsAllowedCount = o.magicsAllowedCount;
      for(int i = 0; i < o.magicsAllowedCount; i++)
         magicsAllowed[i] = o.magicsAllowed[i];
      magicsBlockedCount = o.magicsBlockedCount;
      for(int i = 0; i < o.magicsBlockedCount; i++)
         magicsBlocked[i] = o.magicsBlocked[i];
      priceDeviationPipsMax = o.priceDeviationPipsMax;
      signalAgeMsMax = o.signalAgeMsMax;
      copyOpenPositions = o.copyOpenPositions;
      overflow = o.overflow;
     }

   /** A map entry: a later entry with the same key replaces an earlier one (as protobufjs decodes maps). */
   void              PutMap(const string &from, const string &to)
     {
      for(int i = 0; i < mapCount; i++)
         if(mapFrom[i] == from)
           {
            mapTo[i] = to;
            return;
           }
      if(mapCount >= SP_SETTINGS_LIST_MAX)
        {
         overflow = true;
         return;
        }
      mapFrom[mapCount] = from;
      mapTo[mapCount] = to;
      mapCount++;
     }

   void              AddSymbolAllowed(const string &s)
     {
      if(symbolsAllowedCount >= SP_SETTINGS_LIST_MAX) { overflow = true; return; }
      symbolsAllowed[symbolsAllowedCount] = s;
      symbolsAllowedCount++;
     }
   void              AddSymbolBlocked(const string &s)
     {
      if(symbolsBlockedCount >= SP_SETTINGS_LIST_MAX) { overflow = true; return; }
      symbolsBlocked[symbolsBlockedCount] = s;
      symbolsBlockedCount++;
     }
   void              AddMagicAllowed(ulong m)
     {
      if(magicsAllowedCount >= SP_SETTINGS_LIST_MAX) { overflow = true; return; }
      magicsAllowed[magicsAllowedCount] = m;
      magicsAllowedCount++;
     }
   void              AddMagicBlocked(ulong m)
     {
      if(magicsBlockedCount >= SP_SETTINGS_LIST_MAX) { overflow = true; return; }
      magicsBlocked[magicsBlockedCount] = m;
      magicsBlockedCount++;
     }

   bool              SymbolAllowedHas(const string &s) const
     {
      for(int i = 0; i < symbolsAllowedCount; i++)
         if(symbolsAllowed[i] == s)
            return true;
      return false;
     }
   bool              SymbolBlockedHas(const string &s) const
     {
      for(int i = 0; i < symbolsBlockedCount; i++)
         if(symbolsBlocked[i] == s)
            return true;
      return false;
     }
   bool              MagicAllowedHas(ulong m) const
     {
      for(int i = 0; i < magicsAllowedCount; i++)
         if(magicsAllowed[i] == m)
            return true;
      return false;
     }
   bool              MagicBlockedHas(ulong m) const
     {
      for(int i = 0; i < magicsBlockedCount; i++)
         if(magicsBlocked[i] == m)
            return true;
      return false;
     }

   /** The mapped receiver symbol of `masterSymbol`, or "" when the map has none. */
   string            MapLookup(const string &masterSymbol) const
     {
      for(int i = 0; i < mapCount; i++)
         if(mapFrom[i] == masterSymbol)
            return mapTo[i];
      return "";
     }
   bool              MapHas(const string &masterSymbol) const
     {
      for(int i = 0; i < mapCount; i++)
         if(mapFrom[i] == masterSymbol)
            return true;
      return false;
     }
  };

bool SpSettingsSymbolValid(const string &s)
  {
   return SpMatchesCharset(s, "._#+-", 1, SP_RECEIVER_SYMBOL_CHARS_MAX);
  }

bool SpSettingsAffixValid(const string &s)
  {
   return SpMatchesCharset(s, "._#+-", 0, SP_SYMBOL_AFFIX_CHARS_MAX);
  }

bool SpFiniteIn(double v, double min, double max)
  {
   return MathIsValidNumber(v) && v >= min && v <= max;
  }

/**
 * Settings as decoded from the wire, made whole as the TypeScript client
 * does (LOT_MODE_UNSPECIFIED is MULTIPLIER 1), then checked: "" when they
 * pass, else the proto/receiver-settings.ts code and the field.
 */
string SpResolveCopySettings(SpCopySettings &s)
  {
   if(s.lotMode < SP_LOT_MODE_FIXED || s.lotMode > SP_LOT_MODE_RISK_PERCENT)
     {
      if(s.lotMode == SP_LOT_MODE_UNSPECIFIED)
         s.lotValue = 1;
      s.lotMode = SP_LOT_MODE_MULTIPLIER;
     }
   if(s.overflow)
      return "SETTINGS_TOO_MANY_ENTRIES";
   if(!SpSettingsAffixValid(s.symbolPrefix))
      return "SETTINGS_INVALID_SYMBOL symbolPrefix";
   if(!SpSettingsAffixValid(s.symbolSuffix))
      return "SETTINGS_INVALID_SYMBOL symbolSuffix";
   for(int i = 0; i < s.mapCount; i++)
      if(!SpSettingsSymbolValid(s.mapFrom[i]) || !SpSettingsSymbolValid(s.mapTo[i]))
         return "SETTINGS_INVALID_SYMBOL symbolMap";
   for(int i = 0; i < s.symbolsAllowedCount; i++)
      if(!SpSettingsSymbolValid(s.symbolsAllowed[i]))
         return "SETTINGS_INVALID_SYMBOL symbolsAllowed";
   for(int i = 0; i < s.symbolsBlockedCount; i++)
      if(!SpSettingsSymbolValid(s.symbolsBlocked[i]))
         return "SETTINGS_INVALID_SYMBOL symbolsBlocked";
   if(!SpFiniteIn(s.lotValue, 0, SP_SETTINGS_LOT_VALUE_MAX))
      return "SETTINGS_OUT_OF_RANGE lotValue";
   if(!SpFiniteIn(s.masterEquity, 0, SP_SETTINGS_MASTER_EQUITY_MAX))
      return "SETTINGS_OUT_OF_RANGE masterEquity";
   if(!SpFiniteIn(s.lotMin, 0, SP_SETTINGS_LOTS_MAX))
      return "SETTINGS_OUT_OF_RANGE lotMin";
   if(!SpFiniteIn(s.lotMax, 0, SP_SETTINGS_LOTS_MAX))
      return "SETTINGS_OUT_OF_RANGE lotMax";
   if(!SpFiniteIn(s.priceDeviationPipsMax, 0, SP_SETTINGS_PRICE_DEVIATION_PIPS_MAX))
      return "SETTINGS_OUT_OF_RANGE priceDeviationPipsMax";
   if(s.signalAgeMsMax < 0 || s.signalAgeMsMax > SP_SETTINGS_SIGNAL_AGE_MS_MAX)
      return "SETTINGS_OUT_OF_RANGE signalAgeMsMax";
   if(!(s.lotValue > 0))
      return "SETTINGS_OUT_OF_RANGE lotValue";
   if(s.lotMode == SP_LOT_MODE_EQUITY_RATIO && !(s.masterEquity > 0))
      return "SETTINGS_MASTER_EQUITY_REQUIRED masterEquity";
   if(s.lotMax > 0 && s.lotMin > s.lotMax)
      return "SETTINGS_LOT_RANGE_EMPTY lotMin";
   for(int i = 0; i < s.symbolsAllowedCount; i++)
      if(s.SymbolBlockedHas(s.symbolsAllowed[i]))
         return "SETTINGS_FILTER_CONFLICT symbolsAllowed";
   for(int i = 0; i < s.magicsAllowedCount; i++)
      if(s.MagicBlockedHas(s.magicsAllowed[i]))
         return "SETTINGS_FILTER_CONFLICT magicsAllowed";
   return "";
  }

#endif
