// Declarations of the standard library's CTrade (MQL5/Include/Trade/Trade.mqh)
// that the MQL5 platform layer uses, for the clang syntax check only.
#ifndef SIGPLANE_MQL5_SHIM_TRADE_MQH
#define SIGPLANE_MQL5_SHIM_TRADE_MQH

enum ENUM_LOG_LEVELS { LOG_LEVEL_NO, LOG_LEVEL_ERRORS, LOG_LEVEL_ALL };

class CTrade {
 public:
  void SetDeviationInPoints(const ulong deviation);
  void SetAsyncMode(const bool mode);
  void LogLevel(const ENUM_LOG_LEVELS log_level);
  bool SetTypeFillingBySymbol(const string &symbol);
  bool PositionOpen(const string &symbol, const ENUM_ORDER_TYPE order_type, const double volume, const double price, const double sl, const double tp,
                    const string &comment = "");
  bool PositionClose(const ulong ticket, const ulong deviation = 18446744073709551615UL);
  bool PositionClosePartial(const ulong ticket, const double volume, const ulong deviation = 18446744073709551615UL);
  bool PositionModify(const ulong ticket, const double sl, const double tp);
  uint ResultRetcode() const;
  double ResultPrice() const;
  double ResultVolume() const;
  ulong ResultDeal() const;
  ulong ResultOrder() const;
};

#endif
