// Account, symbols, positions and trading of the C++ platform layer: the
// paper terminal (paper-terminal.hpp) behind the same functions the MQL5
// layer implements over AccountInfo*, SymbolInfo*, Position* and CTrade.
#ifndef SIGPLANE_CPP_TERMINAL_API_HPP
#define SIGPLANE_CPP_TERMINAL_API_HPP

#include "paper-terminal.hpp"

inline bool PlatformAccountIsHedging() { return g_terminal.config.hedging; }
inline double PlatformAccountEquity() { return g_terminal.Equity(); }
inline string PlatformAccountCurrency() { return string(g_terminal.config.currency); }
inline long PlatformAccountLogin() { return g_terminal.config.login; }

inline bool PlatformSymbolSpec(const string &symbol, SpSymbolSpec &spec) {
  const PaperSymbol *s = g_terminal.Spec(symbol.Std());
  spec.Reset();
  if (s == nullptr) return false;
  spec.symbol = symbol;
  spec.digits = s->digits;
  spec.volumeMin = s->volumeMin;
  spec.volumeMax = s->volumeMax;
  spec.volumeStep = s->volumeStep;
  spec.tickValue = s->tickValue;
  spec.tickSize = s->tickSize;
  return true;
}

inline bool PlatformSymbolQuote(const string &symbol, double &bid, double &ask) { return g_terminal.Quote(symbol.Std(), bid, ask); }

inline int PlatformPositionsTotal() { return (int)g_terminal.positions.size(); }

inline bool PlatformPositionAt(int index, SpTerminalPosition &out) {
  out.Reset();
  if (index < 0 || index >= (int)g_terminal.positions.size()) return false;
  const PaperPosition &p = g_terminal.positions[(size_t)index];
  out.ticket = p.ticket;
  out.symbol = string(p.symbol);
  out.type = p.type;
  out.volume = p.volume;
  out.priceOpen = p.priceOpen;
  double bid = 0, ask = 0;
  out.priceCurrent = g_terminal.Quote(p.symbol, bid, ask) ? (p.type == 0 ? bid : ask) : p.priceOpen;
  out.stopLoss = p.sl;
  out.takeProfit = p.tp;
  out.magic = p.magic;
  out.comment = string(p.comment);
  return true;
}

/** The largest price deviation a market order accepts, in points (MT5: CTrade.SetDeviationInPoints); the paper terminal has its own slippage. */
inline void PlatformTradeConfigure(int deviationPoints) { (void)deviationPoints; }

// The terminal loop hands the transactions of each operation to OnTradeTransaction (terminal-loop.cpp).
void PlatformTransactionsRaised();

inline bool PlatformTradeOpen(const string &symbol, int orderType, double volume, double sl, double tp, const string &comment, SpTradeResult &result) {
  g_terminal.Open(symbol.Std(), orderType, volume, sl, tp, comment.Std(), 0, result);
  PlatformTransactionsRaised();
  return result.ok;
}

inline bool PlatformTradeClose(ulong ticket, double volume, SpTradeResult &result) {
  g_terminal.Close(ticket, volume, result);
  PlatformTransactionsRaised();
  return result.ok;
}

inline bool PlatformTradeModify(ulong ticket, double sl, double tp, SpTradeResult &result) {
  g_terminal.Modify(ticket, sl, tp, result);
  PlatformTransactionsRaised();
  return result.ok;
}

#endif
