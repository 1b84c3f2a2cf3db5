// What the shared code and the platform layer exchange. The platform
// interface itself is a small set of functions with the same signatures on
// both sides (Include/Sigplane/Platform.mqh for MQL5 over Socket*,
// Database*, CTrade, Position*, SymbolInfo*; cpp/include/Sigplane/
// Platform.mqh for the tests over POSIX sockets, OpenSSL, sqlite3 and the
// paper terminal):
//
//   clock     long PlatformNowMs(); long PlatformMonotonicMs();
//   log       void PlatformLog(int level, const string &code, const string &message);
//   hashes    void PlatformSha256(const ByteBuffer &data, ByteBuffer &digest);
//             void PlatformSha1(const ByteBuffer &data, ByteBuffer &digest);
//             void PlatformRandomBytes(int count, ByteBuffer &out);
//   socket    int  PlatformSocketOpen(const string &host, int port, bool tls,
//                                     const string &pinnedThumbprint, int timeoutMs, string &error);
//             int  PlatformSocketSend(int socket, const ByteBuffer &data, int count);
//             int  PlatformSocketRead(int socket, ByteBuffer &into, int maxBytes);
//             void PlatformSocketClose(int socket);
//   database  int  PlatformDbOpen(const string &name); void PlatformDbClose(int db);
//             bool PlatformDbExec(int db, const string &sql);
//             int  PlatformDbPrepare(int db, const string &sql);
//             bool PlatformDbBindLong/Double/Text/Blob(int statement, int index, value);
//             int  PlatformDbStep(int statement);   // 1 row, 0 done, -1 error
//             long/double PlatformDbColumnLong/Double(int statement, int column);
//             void PlatformDbColumnText/Blob(int statement, int column, out);
//             void PlatformDbReset(int statement); void PlatformDbFinalize(int statement);
//             bool PlatformDbBegin/Commit/Rollback(int db);
//   account   bool PlatformAccountIsHedging(); double PlatformAccountEquity();
//             string PlatformAccountCurrency(); long PlatformAccountLogin();
//   symbols   bool PlatformSymbolSpec(const string &symbol, SpSymbolSpec &spec);
//             bool PlatformSymbolQuote(const string &symbol, double &bid, double &ask);
//   positions int  PlatformPositionsTotal(); bool PlatformPositionAt(int index, SpTerminalPosition &out);
//   trading   void PlatformTradeConfigure(int deviationPoints);
//             bool PlatformTradeOpen(symbol, orderType, volume, sl, tp, comment, SpTradeResult &result);
//             bool PlatformTradeClose(ulong ticket, double volume, SpTradeResult &result);
//             bool PlatformTradeModify(ulong ticket, double sl, double tp, SpTradeResult &result);
//
// Database parameter indexes start at 0 (MQL5's DatabaseBind). Handles
// are > 0; -1 is a failure.
//
// Common subset of MQL5 and C++.
#ifndef SIGPLANE_PLATFORM_TYPES_MQH
#define SIGPLANE_PLATFORM_TYPES_MQH

#define SP_LOG_DEBUG 0
#define SP_LOG_INFO 1
#define SP_LOG_WARN 2
#define SP_LOG_ERROR 3

/** What the broker says about a symbol (MT5 SymbolInfo*). */
class SpSymbolSpec
  {
public:
   string            symbol;
   int               digits;
   double            volumeMin;
   double            volumeMax;
   double            volumeStep;
   /** Account currency per 1 lot when the price moves by tickSize. */
   double            tickValue;
   double            tickSize;
                     SpSymbolSpec(void) { Reset(); }
   void              Reset(void)
     {
      symbol = "";
      digits = 0;
      volumeMin = 0;
      volumeMax = 0;
      volumeStep = 0;
      tickValue = 0;
      tickSize = 0;
     }
  };

/** One open position of the terminal (MT5 PositionGet*). */
class SpTerminalPosition
  {
public:
   ulong             ticket;
   string            symbol;
   /** 0 BUY, 1 SELL (POSITION_TYPE). */
   int               type;
   double            volume;
   double            priceOpen;
   double            priceCurrent;
   double            stopLoss;
   double            takeProfit;
   ulong             magic;
   string            comment;
                     SpTerminalPosition(void) { Reset(); }
   void              Reset(void)
     {
      ticket = 0;
      symbol = "";
      type = 0;
      volume = 0;
      priceOpen = 0;
      priceCurrent = 0;
      stopLoss = 0;
      takeProfit = 0;
      magic = 0;
      comment = "";
     }
  };

/** What one trade request did. */
class SpTradeResult
  {
public:
   bool              ok;
   /** A requote, no prices, busy: the same request may succeed later. */
   bool              transient;
   /** MT5 trade server return code (TRADE_RETCODE_*). */
   int               retcode;
   /** The position ticket (open: the new or grown position). */
   ulong             ticket;
   /** Fill price and filled volume. */
   double            price;
   double            volume;
   /** A close: the deal's realized result in the account currency (profit + commission + swap). */
   bool              hasProfit;
   double            profit;
                     SpTradeResult(void) { Reset(); }
   void              Reset(void)
     {
      ok = false;
      transient = false;
      retcode = 0;
      ticket = 0;
      price = 0;
      volume = 0;
      hasProfit = false;
      profit = 0;
     }
  };

// MT5 trade server return codes the EAs act on.
#define SP_RETCODE_REQUOTE 10004
#define SP_RETCODE_DONE 10009
#define SP_RETCODE_DONE_PARTIAL 10010
#define SP_RETCODE_TIMEOUT 10012
#define SP_RETCODE_INVALID 10013
#define SP_RETCODE_INVALID_VOLUME 10014
#define SP_RETCODE_INVALID_STOPS 10016
#define SP_RETCODE_MARKET_CLOSED 10018
#define SP_RETCODE_PRICE_CHANGED 10020
#define SP_RETCODE_PRICE_OFF 10021
#define SP_RETCODE_TOO_MANY_REQUESTS 10024
#define SP_RETCODE_SERVER_DISABLES_AT 10026
#define SP_RETCODE_CLIENT_DISABLES_AT 10027
#define SP_RETCODE_CONNECTION 10031
#define SP_RETCODE_POSITION_CLOSED 10036

/**
 * Whether the same request may succeed later: the copier retries those a
 * few times, then fails the delivery, which comes again after a reconnect.
 * A closed market and algorithmic trading switched off (in the terminal or
 * by the broker) are among them: a copy is not skipped for good because
 * the weekend came or the AutoTrading button was off.
 */
bool SpRetcodeIsTransient(int retcode)
  {
   return retcode == SP_RETCODE_REQUOTE || retcode == SP_RETCODE_TIMEOUT || retcode == SP_RETCODE_PRICE_CHANGED ||
          retcode == SP_RETCODE_PRICE_OFF || retcode == SP_RETCODE_TOO_MANY_REQUESTS || retcode == SP_RETCODE_CONNECTION ||
          retcode == SP_RETCODE_MARKET_CLOSED || retcode == SP_RETCODE_SERVER_DISABLES_AT || retcode == SP_RETCODE_CLIENT_DISABLES_AT;
  }

#endif
