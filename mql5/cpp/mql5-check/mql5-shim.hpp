// Declarations of the MQL5 built-ins the EAs use, with MQL5's signatures,
// for clang's syntax check of the MQL5 build (test/metatrader/
// mql5-syntax.test.ts), the way MQL5 language servers check MQL5 with a
// C++ front end. Declarations only: nothing here runs. The check compiles
// the two experts with the MQL5 platform layer (Include/Sigplane/
// Platform.mqh -> Platform/Mql5Platform.mqh), after a small rewrite of the
// MQL5-only syntax (test/metatrader/support/mql5-to-cpp.ts):
//   #property lines dropped; `input`/`sinput` -> static;
//   `T name[]` (dynamic arrays) -> MqlArray<T> name; `T &name[]` parameters
//   -> MqlArray<T> &name.
// What it proves: every name the MQL5 build uses is declared, calls have
// MQL5's arity and argument types, the shared code uses no C++-prelude-only
// helper. What only MetaEditor can check: everything MQL5 does differently
// from C++ (see docs/metatrader.md).
#ifndef SIGPLANE_MQL5_SHIM_HPP
#define SIGPLANE_MQL5_SHIM_HPP

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef long datetime;

class string {
 public:
  string();
  string(const char *);
  string(const string &);
  string &operator=(const string &);
  string &operator=(const char *);
  string &operator+=(const string &);
  bool operator==(const string &) const;
  bool operator!=(const string &) const;
};
string operator+(const string &, const string &);
string operator+(const string &, const char *);
string operator+(const char *, const string &);

template <class T>
class MqlArray {
 public:
  T &operator[](int);
  const T &operator[](int) const;
};

#define WHOLE_ARRAY (-1)
#define CP_UTF8 65001
#define INVALID_HANDLE (-1)
#define ERR_DATABASE_NO_MORE_DATA 5126

// ---- strings, math ----
int StringLen(const string &);
ushort StringGetCharacter(const string &, int);
string StringSubstr(const string &, int, int length = -1);
int StringFind(const string &, const string &, int start = 0);
string ShortToString(ushort);
string IntegerToString(long, int str_len = 0, ushort fill = ' ');
string DoubleToString(double, int digits = 8);
bool StringToUpper(string &);
int StringCompare(const string &, const string &, bool case_sensitive = true);
template <class T>
int StringToCharArray(const string &, MqlArray<T> &, int start = 0, int count = -1, uint codepage = 0);
template <class T>
string CharArrayToString(const MqlArray<T> &, int start = 0, int count = -1, uint codepage = 0);
double MathAbs(double);
double MathFloor(double);
double MathCeil(double);
double MathRound(double);
double MathMin(double, double);
double MathMax(double, double);
double MathPow(double, double);
double MathSqrt(double);
bool MathIsValidNumber(double);
void MathSrand(uint);
int MathRand();

// ---- arrays ----
template <class T>
int ArrayResize(MqlArray<T> &, int new_size, int reserve_size = 0);
template <class T>
int ArraySize(const MqlArray<T> &);
template <class T>
int ArrayCopy(MqlArray<T> &, const MqlArray<T> &, int dst_start = 0, int src_start = 0, int count = -1);

// ---- terminal, time ----
datetime TimeGMT();
datetime TimeLocal();
datetime TimeCurrent();
ulong GetTickCount64();
uint GetTickCount();
ulong GetMicrosecondCount();
long ChartID();
template <class... A>
void Print(A...);
void ResetLastError();
int GetLastError();
bool EventSetMillisecondTimer(int);
void EventKillTimer();
enum ENUM_TERMINAL_INFO_STRING { TERMINAL_DATA_PATH };
string TerminalInfoString(ENUM_TERMINAL_INFO_STRING);

// ---- crypt ----
enum ENUM_CRYPT_METHOD { CRYPT_BASE64, CRYPT_AES128, CRYPT_AES256, CRYPT_DES, CRYPT_HASH_SHA1, CRYPT_HASH_SHA256, CRYPT_HASH_MD5, CRYPT_ARCH_ZIP };
int CryptEncode(ENUM_CRYPT_METHOD, const MqlArray<uchar> &data, const MqlArray<uchar> &key, MqlArray<uchar> &result);

// ---- sockets ----
int SocketCreate(uint flags = 0);
bool SocketClose(int);
bool SocketConnect(int, const string &server, uint port, uint timeout_receive_ms);
bool SocketIsConnected(int);
uint SocketIsReadable(int);
bool SocketTlsHandshake(int, const string &host);
bool SocketTlsCertificate(int, string &subject, string &issuer, string &serial, string &thumbprint, datetime &expiration);
int SocketTlsSend(int, const MqlArray<uchar> &buffer, uint buffer_len);
int SocketTlsReadAvailable(int, MqlArray<uchar> &buffer, const uint buffer_maxlen);
int SocketSend(int, const MqlArray<uchar> &buffer, uint buffer_len);
int SocketRead(int, MqlArray<uchar> &buffer, uint buffer_maxlen, uint timeout_ms);

// ---- database ----
#define DATABASE_OPEN_READONLY 1
#define DATABASE_OPEN_READWRITE 2
#define DATABASE_OPEN_CREATE 4
#define DATABASE_OPEN_MEMORY 8
#define DATABASE_OPEN_COMMON 16
int DatabaseOpen(const string &filename, uint flags);
void DatabaseClose(int);
bool DatabaseExecute(int, const string &sql);
int DatabasePrepare(int, const string &sql);
bool DatabaseBind(int, int, long);
bool DatabaseBind(int, int, double);
bool DatabaseBind(int, int, const string &);
template <class T>
bool DatabaseBindArray(int, int, const MqlArray<T> &);
bool DatabaseRead(int);
bool DatabaseColumnLong(int, int, long &);
bool DatabaseColumnDouble(int, int, double &);
bool DatabaseColumnText(int, int, string &);
template <class T>
bool DatabaseColumnBlob(int, int, MqlArray<T> &);
bool DatabaseReset(int);
void DatabaseFinalize(int);
bool DatabaseTransactionBegin(int);
bool DatabaseTransactionCommit(int);
bool DatabaseTransactionRollback(int);

// ---- account, symbols, positions, deals ----
enum ENUM_ACCOUNT_INFO_INTEGER { ACCOUNT_LOGIN, ACCOUNT_MARGIN_MODE };
enum ENUM_ACCOUNT_INFO_DOUBLE { ACCOUNT_EQUITY, ACCOUNT_BALANCE };
enum ENUM_ACCOUNT_INFO_STRING { ACCOUNT_CURRENCY };
enum ENUM_ACCOUNT_MARGIN_MODE { ACCOUNT_MARGIN_MODE_RETAIL_NETTING, ACCOUNT_MARGIN_MODE_EXCHANGE, ACCOUNT_MARGIN_MODE_RETAIL_HEDGING };
long AccountInfoInteger(ENUM_ACCOUNT_INFO_INTEGER);
double AccountInfoDouble(ENUM_ACCOUNT_INFO_DOUBLE);
string AccountInfoString(ENUM_ACCOUNT_INFO_STRING);

enum ENUM_SYMBOL_INFO_INTEGER { SYMBOL_DIGITS };
enum ENUM_SYMBOL_INFO_DOUBLE { SYMBOL_VOLUME_MIN, SYMBOL_VOLUME_MAX, SYMBOL_VOLUME_STEP, SYMBOL_TRADE_TICK_VALUE, SYMBOL_TRADE_TICK_SIZE, SYMBOL_BID, SYMBOL_ASK };
struct MqlTick {
  datetime time;
  double bid;
  double ask;
  double last;
  ulong volume;
};
bool SymbolExist(const string &name, bool &is_custom);
bool SymbolSelect(const string &name, bool select);
long SymbolInfoInteger(const string &, ENUM_SYMBOL_INFO_INTEGER);
double SymbolInfoDouble(const string &, ENUM_SYMBOL_INFO_DOUBLE);
bool SymbolInfoTick(const string &, MqlTick &);

enum ENUM_POSITION_PROPERTY_INTEGER { POSITION_TYPE, POSITION_MAGIC, POSITION_IDENTIFIER, POSITION_TICKET };
enum ENUM_POSITION_PROPERTY_DOUBLE { POSITION_VOLUME, POSITION_PRICE_OPEN, POSITION_PRICE_CURRENT, POSITION_SL, POSITION_TP };
enum ENUM_POSITION_PROPERTY_STRING { POSITION_SYMBOL, POSITION_COMMENT };
enum ENUM_POSITION_TYPE { POSITION_TYPE_BUY, POSITION_TYPE_SELL };
int PositionsTotal();
ulong PositionGetTicket(int);
bool PositionSelectByTicket(ulong);
long PositionGetInteger(ENUM_POSITION_PROPERTY_INTEGER);
double PositionGetDouble(ENUM_POSITION_PROPERTY_DOUBLE);
string PositionGetString(ENUM_POSITION_PROPERTY_STRING);

enum ENUM_DEAL_PROPERTY_INTEGER { DEAL_POSITION_ID, DEAL_ENTRY, DEAL_TYPE };
enum ENUM_DEAL_PROPERTY_DOUBLE { DEAL_PRICE, DEAL_VOLUME, DEAL_PROFIT, DEAL_COMMISSION, DEAL_SWAP };
enum ENUM_DEAL_ENTRY { DEAL_ENTRY_IN, DEAL_ENTRY_OUT, DEAL_ENTRY_INOUT, DEAL_ENTRY_OUT_BY };
bool HistoryDealSelect(ulong);
long HistoryDealGetInteger(ulong, ENUM_DEAL_PROPERTY_INTEGER);
double HistoryDealGetDouble(ulong, ENUM_DEAL_PROPERTY_DOUBLE);

// ---- trade types the handlers see ----
enum ENUM_INIT_RETCODE { INIT_SUCCEEDED = 0, INIT_FAILED = 1, INIT_PARAMETERS_INCORRECT = 2 };
enum ENUM_TRADE_TRANSACTION_TYPE {
  TRADE_TRANSACTION_ORDER_ADD,
  TRADE_TRANSACTION_ORDER_UPDATE,
  TRADE_TRANSACTION_ORDER_DELETE,
  TRADE_TRANSACTION_HISTORY_ADD,
  TRADE_TRANSACTION_HISTORY_UPDATE,
  TRADE_TRANSACTION_HISTORY_DELETE,
  TRADE_TRANSACTION_DEAL_ADD,
  TRADE_TRANSACTION_DEAL_UPDATE,
  TRADE_TRANSACTION_DEAL_DELETE,
  TRADE_TRANSACTION_POSITION,
  TRADE_TRANSACTION_REQUEST
};
enum ENUM_ORDER_TYPE { ORDER_TYPE_BUY, ORDER_TYPE_SELL };
enum ENUM_TRADE_RETCODE { TRADE_RETCODE_DONE = 10009, TRADE_RETCODE_NO_CHANGES = 10025 };
struct MqlTradeTransaction {
  ulong deal;
  ulong order;
  string symbol;
  ENUM_TRADE_TRANSACTION_TYPE type;
  double price;
  double volume;
  ulong position;
};
struct MqlTradeRequest {
  ulong magic;
};
struct MqlTradeResult {
  uint retcode;
};

#endif
