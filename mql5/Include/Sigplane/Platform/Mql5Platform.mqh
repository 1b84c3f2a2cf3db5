// The MQL5 platform layer: the functions PlatformTypes.mqh lists, over
// MQL5's own API. MQL5 only (MetaEditor compiles it; the tests' C++ build
// uses cpp/platform/ instead, and test/metatrader/mql5-syntax.test.ts checks
// this file's syntax and names with clang).
//
//   clock     TimeGMT (seconds) refined to milliseconds with GetTickCount64
//   log       Print (the terminal's Experts journal)
//   hashes    CryptEncode(CRYPT_HASH_SHA256 / CRYPT_HASH_SHA1)
//   random    a hash chain (SHA-256) seeded from GetMicrosecondCount, the
//             clocks, MathRand and the terminal and account identity; used for
//             WebSocket masking keys and the handshake nonce only
//   socket    SocketCreate / SocketConnect / SocketTlsHandshake /
//             SocketTlsCertificate / SocketTlsSend / SocketTlsReadAvailable;
//             a TLS connection that fails its handshake is closed, never used
//             in plain text
//   database  DatabaseOpen (common Files folder) and the Database* functions
//   trading   CTrade (Trade/Trade.mqh), Position*, SymbolInfo*, AccountInfo*,
//             HistoryDeal* for a close's realized profit
#ifndef SIGPLANE_MQL5_PLATFORM_MQH
#define SIGPLANE_MQL5_PLATFORM_MQH

#include <Trade/Trade.mqh>
#include <Sigplane/Platform/Mql5Prelude.mqh>
#include <Sigplane/PlatformTypes.mqh>

// ---- clock ----

long g_spClockSecond = 0;
ulong g_spClockTickAtSecond = 0;

/** Wall clock, ms since the Unix epoch (the computer's clock: keep it synchronized). Never ahead of it. */
long PlatformNowMs(void)
  {
   long second = (long)TimeGMT();
   ulong tick = GetTickCount64();
   if(second != g_spClockSecond)
     {
      g_spClockSecond = second;
      g_spClockTickAtSecond = tick;
     }
   long within = (long)(tick - g_spClockTickAtSecond);
   if(within > 999)
      within = 999;
   return second * 1000 + within;
  }

long PlatformMonotonicMs(void)
  {
   return (long)GetTickCount64();
  }

// ---- log ----

void PlatformLog(int level, const string &code, const string &message)
  {
   string name = level >= 3 ? "ERROR" : (level == 2 ? "WARN" : (level == 1 ? "INFO" : "DEBUG"));
   if(level < 1)
      return; // debug lines are for the tests' terminal
   Print("sigplane ", name, " ", code, ": ", message);
  }

// ---- hashes and random bytes ----

void PlatformSha256(const ByteBuffer &data, ByteBuffer &digest)
  {
   data.HashInto(CRYPT_HASH_SHA256, digest);
  }

void PlatformSha1(const ByteBuffer &data, ByteBuffer &digest)
  {
   data.HashInto(CRYPT_HASH_SHA1, digest);
  }

ByteBuffer g_spRandomState;
ByteBuffer g_spRandomBlock;
ByteBuffer g_spRandomInput;
ulong g_spRandomCounter = 0;

void PlatformRandomBytes(int count, ByteBuffer &out)
  {
   if(g_spRandomState.Size() == 0)
     {
      MathSrand((uint)GetTickCount());
      g_spRandomInput.AppendString(IntegerToString((long)GetMicrosecondCount()) + "|" + IntegerToString((long)TimeLocal()) + "|" +
                                   IntegerToString((long)GetTickCount64()) + "|" + IntegerToString(MathRand()) + "|" + IntegerToString(MathRand()) + "|" +
                                   TerminalInfoString(TERMINAL_DATA_PATH) + "|" + IntegerToString(AccountInfoInteger(ACCOUNT_LOGIN)) + "|" +
                                   IntegerToString((long)ChartID()));
      PlatformSha256(g_spRandomInput, g_spRandomState);
     }
   while(count > 0)
     {
      g_spRandomCounter++;
      g_spRandomInput.Clear();
      g_spRandomInput.Append(g_spRandomState);
      for(int i = 0; i < 8; i++)
         g_spRandomInput.Push((uchar)((g_spRandomCounter >> (8 * i)) & 0xFF));
      ulong micro = GetMicrosecondCount();
      for(int i = 0; i < 8; i++)
         g_spRandomInput.Push((uchar)((micro >> (8 * i)) & 0xFF));
      PlatformSha256(g_spRandomInput, g_spRandomBlock);
      for(int i = 0; i < g_spRandomBlock.Size() && count > 0; i++)
        {
         out.Push(g_spRandomBlock.At(i));
         count--;
        }
     }
  }

// ---- sockets ----

#define SP_MQL5_SOCKETS_MAX 16
int g_spSocketHandle[SP_MQL5_SOCKETS_MAX];
bool g_spSocketTls[SP_MQL5_SOCKETS_MAX];
int g_spSocketCount = 0;

bool PlatformSocketIsTls(int socket)
  {
   for(int i = 0; i < g_spSocketCount; i++)
      if(g_spSocketHandle[i] == socket)
         return g_spSocketTls[i];
   return false;
  }

void PlatformSocketClose(int socket)
  {
   if(socket == INVALID_HANDLE || socket <= 0)
      return;
   SocketClose(socket);
   for(int i = 0; i < g_spSocketCount; i++)
      if(g_spSocketHandle[i] == socket)
        {
         g_spSocketCount--;
         g_spSocketHandle[i] = g_spSocketHandle[g_spSocketCount];
         g_spSocketTls[i] = g_spSocketTls[g_spSocketCount];
         return;
        }
  }

/**
 * A connected socket (TLS when asked: the handshake and a certificate must
 * succeed, and match the pinned thumbprint when one is given), or -1 with
 * the reason. Blocks the EA's thread for at most timeoutMs per step.
 */
int PlatformSocketOpen(const string &host, int port, bool tls, const string &pinnedThumbprint, int timeoutMs, string &error)
  {
   if(g_spSocketCount >= SP_MQL5_SOCKETS_MAX)
     {
      error = "CONNECT_FAILED: no free socket";
      return -1;
     }
   ResetLastError();
   int socket = SocketCreate();
   if(socket == INVALID_HANDLE)
     {
      error = "CONNECT_FAILED: SocketCreate error " + IntegerToString(GetLastError());
      return -1;
     }
   if(!SocketConnect(socket, host, port, (uint)timeoutMs))
     {
      int e = GetLastError();
      error = "CONNECT_FAILED: error " + IntegerToString(e) + (e == 4014 ? " (add the server to Tools > Options > Expert Advisors > Allow WebRequest for listed URL)" : "");
      SocketClose(socket);
      return -1;
     }
   if(tls)
     {
      // MT5 secures connections to port 443 itself; any other port is secured here.
      if(port != 443 && !SocketTlsHandshake(socket, host))
        {
         error = "TLS_FAILED: handshake error " + IntegerToString(GetLastError());
         SocketClose(socket);
         return -1;
        }
      string subject, issuer, serial, thumbprint;
      datetime expiration;
      if(!SocketTlsCertificate(socket, subject, issuer, serial, thumbprint, expiration))
        {
         error = "TLS_FAILED: no server certificate (error " + IntegerToString(GetLastError()) + ")";
         SocketClose(socket);
         return -1;
        }
      if(expiration < TimeGMT())
        {
         error = "TLS_FAILED: the server certificate expired";
         SocketClose(socket);
         return -1;
        }
      if(StringLen(pinnedThumbprint) > 0 && StringCompare(thumbprint, pinnedThumbprint, false) != 0)
        {
         error = "TLS_FAILED: the certificate's thumbprint is not the pinned one";
         SocketClose(socket);
         return -1;
        }
     }
   g_spSocketHandle[g_spSocketCount] = socket;
   g_spSocketTls[g_spSocketCount] = tls;
   g_spSocketCount++;
   return socket;
  }

int PlatformSocketSend(int socket, const ByteBuffer &data, int count)
  {
   if(count <= 0)
      return 0;
   if(!SocketIsConnected(socket))
      return -1;
   int sent = data.SendTo(socket, PlatformSocketIsTls(socket), count);
   return sent < 0 ? -1 : sent;
  }

int PlatformSocketRead(int socket, ByteBuffer &into, int maxBytes)
  {
   return into.ReadFrom(socket, PlatformSocketIsTls(socket), maxBytes);
  }

// ---- database ----

int PlatformDbOpen(const string &name)
  {
   int db = DatabaseOpen(name, DATABASE_OPEN_READWRITE | DATABASE_OPEN_CREATE | DATABASE_OPEN_COMMON);
   return db == INVALID_HANDLE ? -1 : db;
  }
void PlatformDbClose(int db) { DatabaseClose(db); }
bool PlatformDbExec(int db, const string &sql) { return DatabaseExecute(db, sql); }
int PlatformDbPrepare(int db, const string &sql)
  {
   int request = DatabasePrepare(db, sql);
   return request == INVALID_HANDLE ? -1 : request;
  }
bool PlatformDbBindLong(int statement, int index, long value) { return DatabaseBind(statement, index, value); }
bool PlatformDbBindDouble(int statement, int index, double value) { return DatabaseBind(statement, index, value); }
bool PlatformDbBindText(int statement, int index, const string &value) { return DatabaseBind(statement, index, value); }
bool PlatformDbBindBlob(int statement, int index, const ByteBuffer &value) { return value.BindTo(statement, index); }
/** 1: a row; 0: done (a statement without rows ends here too); -1: an error. */
int PlatformDbStep(int statement)
  {
   ResetLastError();
   if(DatabaseRead(statement))
      return 1;
   int e = GetLastError();
   return e == 0 || e == ERR_DATABASE_NO_MORE_DATA ? 0 : -1;
  }
long PlatformDbColumnLong(int statement, int column)
  {
   long v = 0;
   DatabaseColumnLong(statement, column, v);
   return v;
  }
double PlatformDbColumnDouble(int statement, int column)
  {
   double v = 0;
   DatabaseColumnDouble(statement, column, v);
   return v;
  }
void PlatformDbColumnText(int statement, int column, string &out)
  {
   out = "";
   DatabaseColumnText(statement, column, out);
  }
void PlatformDbColumnBlob(int statement, int column, ByteBuffer &out)
  {
   out.Clear();
   out.ReadColumn(statement, column);
  }
void PlatformDbReset(int statement) { DatabaseReset(statement); }
void PlatformDbFinalize(int statement) { DatabaseFinalize(statement); }
bool PlatformDbBegin(int db) { return DatabaseTransactionBegin(db); }
bool PlatformDbCommit(int db) { return DatabaseTransactionCommit(db); }
bool PlatformDbRollback(int db) { return DatabaseTransactionRollback(db); }

// ---- account and symbols ----

bool PlatformAccountIsHedging(void) { return AccountInfoInteger(ACCOUNT_MARGIN_MODE) == ACCOUNT_MARGIN_MODE_RETAIL_HEDGING; }
double PlatformAccountEquity(void) { return AccountInfoDouble(ACCOUNT_EQUITY); }
string PlatformAccountCurrency(void) { return AccountInfoString(ACCOUNT_CURRENCY); }
long PlatformAccountLogin(void) { return AccountInfoInteger(ACCOUNT_LOGIN); }

bool PlatformSymbolSpec(const string &symbol, SpSymbolSpec &spec)
  {
   spec.Reset();
   bool custom = false;
   if(!SymbolExist(symbol, custom))
      return false;
   SymbolSelect(symbol, true);
   spec.symbol = symbol;
   spec.digits = (int)SymbolInfoInteger(symbol, SYMBOL_DIGITS);
   spec.volumeMin = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MIN);
   spec.volumeMax = SymbolInfoDouble(symbol, SYMBOL_VOLUME_MAX);
   spec.volumeStep = SymbolInfoDouble(symbol, SYMBOL_VOLUME_STEP);
   spec.tickValue = SymbolInfoDouble(symbol, SYMBOL_TRADE_TICK_VALUE);
   spec.tickSize = SymbolInfoDouble(symbol, SYMBOL_TRADE_TICK_SIZE);
   return spec.volumeStep > 0 && spec.tickSize > 0;
  }

bool PlatformSymbolQuote(const string &symbol, double &bid, double &ask)
  {
   MqlTick tick;
   if(!SymbolInfoTick(symbol, tick) || tick.bid <= 0 || tick.ask <= 0)
      return false;
   bid = tick.bid;
   ask = tick.ask;
   return true;
  }

// ---- positions ----

int PlatformPositionsTotal(void) { return PositionsTotal(); }

bool PlatformPositionAt(int index, SpTerminalPosition &out)
  {
   out.Reset();
   ulong ticket = PositionGetTicket(index);
   if(ticket == 0)
      return false;
   out.ticket = ticket;
   out.symbol = PositionGetString(POSITION_SYMBOL);
   out.type = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY ? 0 : 1;
   out.volume = PositionGetDouble(POSITION_VOLUME);
   out.priceOpen = PositionGetDouble(POSITION_PRICE_OPEN);
   out.priceCurrent = PositionGetDouble(POSITION_PRICE_CURRENT);
   out.stopLoss = PositionGetDouble(POSITION_SL);
   out.takeProfit = PositionGetDouble(POSITION_TP);
   out.magic = (ulong)PositionGetInteger(POSITION_MAGIC);
   out.comment = PositionGetString(POSITION_COMMENT);
   return true;
  }

// ---- trading ----

CTrade g_spTrade;

void PlatformTradeConfigure(int deviationPoints)
  {
   g_spTrade.SetDeviationInPoints((ulong)(deviationPoints < 0 ? 0 : deviationPoints));
   g_spTrade.SetAsyncMode(false);
   g_spTrade.LogLevel(LOG_LEVEL_ERRORS);
  }

/** The result of the last CTrade request: retcode, fill, and for a closing deal its realized profit. */
bool PlatformTradeResult(bool sent, SpTradeResult &result)
  {
   result.retcode = (int)g_spTrade.ResultRetcode();
   result.ok = sent && (result.retcode == SP_RETCODE_DONE || result.retcode == SP_RETCODE_DONE_PARTIAL);
   result.transient = !result.ok && SpRetcodeIsTransient(result.retcode);
   result.price = g_spTrade.ResultPrice();
   result.volume = g_spTrade.ResultVolume();
   ulong deal = g_spTrade.ResultDeal();
   if(result.ok && deal > 0 && HistoryDealSelect(deal))
     {
      result.ticket = (ulong)HistoryDealGetInteger(deal, DEAL_POSITION_ID);
      if(result.price <= 0)
         result.price = HistoryDealGetDouble(deal, DEAL_PRICE);
      if(result.volume <= 0)
         result.volume = HistoryDealGetDouble(deal, DEAL_VOLUME);
      long entry = HistoryDealGetInteger(deal, DEAL_ENTRY);
      if(entry == DEAL_ENTRY_OUT || entry == DEAL_ENTRY_INOUT || entry == DEAL_ENTRY_OUT_BY)
        {
         result.hasProfit = true;
         result.profit = HistoryDealGetDouble(deal, DEAL_PROFIT) + HistoryDealGetDouble(deal, DEAL_COMMISSION) + HistoryDealGetDouble(deal, DEAL_SWAP);
        }
     }
   if(result.ok && result.ticket == 0)
      result.ticket = g_spTrade.ResultOrder();
   return result.ok;
  }

bool PlatformTradeOpen(const string &symbol, int orderType, double volume, double sl, double tp, const string &comment, SpTradeResult &result)
  {
   result.Reset();
   double bid = 0, ask = 0;
   if(!PlatformSymbolQuote(symbol, bid, ask))
     {
      result.retcode = SP_RETCODE_PRICE_OFF;
      result.transient = true;
      return false;
     }
   g_spTrade.SetTypeFillingBySymbol(symbol);
   bool sent = g_spTrade.PositionOpen(symbol, orderType == 0 ? ORDER_TYPE_BUY : ORDER_TYPE_SELL, volume, orderType == 0 ? ask : bid, sl, tp, comment);
   return PlatformTradeResult(sent, result);
  }

bool PlatformTradeClose(ulong ticket, double volume, SpTradeResult &result)
  {
   result.Reset();
   if(!PositionSelectByTicket(ticket))
     {
      result.retcode = SP_RETCODE_POSITION_CLOSED;
      return false;
     }
   string symbol = PositionGetString(POSITION_SYMBOL);
   double held = PositionGetDouble(POSITION_VOLUME);
   g_spTrade.SetTypeFillingBySymbol(symbol);
   bool sent = false;
   if(volume >= held - 0.000000001)
      sent = g_spTrade.PositionClose(ticket);
   else
      if(PlatformAccountIsHedging())
         sent = g_spTrade.PositionClosePartial(ticket, volume);
      else
        {
         // Netting: part of the symbol's one position closes with an order the other way.
         double bid = 0, ask = 0;
         PlatformSymbolQuote(symbol, bid, ask);
         bool buy = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY;
         sent = g_spTrade.PositionOpen(symbol, buy ? ORDER_TYPE_SELL : ORDER_TYPE_BUY, volume, buy ? bid : ask, 0, 0, PositionGetString(POSITION_COMMENT));
        }
   bool ok = PlatformTradeResult(sent, result);
   result.ticket = ticket;
   return ok;
  }

bool PlatformTradeModify(ulong ticket, double sl, double tp, SpTradeResult &result)
  {
   result.Reset();
   bool sent = g_spTrade.PositionModify(ticket, sl, tp);
   result.retcode = (int)g_spTrade.ResultRetcode();
   result.ok = sent && (result.retcode == SP_RETCODE_DONE || result.retcode == TRADE_RETCODE_NO_CHANGES);
   result.transient = !result.ok && SpRetcodeIsTransient(result.retcode);
   result.ticket = ticket;
   return result.ok;
  }

#endif
