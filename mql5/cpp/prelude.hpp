// The C++ side of the common subset of MQL5 and C++.
//
// The files under mql5/Include/Sigplane (except Platform/Mql5*.mqh) and the
// two .mq5 experts are written once and compiled twice: by MetaEditor as
// MQL5, and by g++ for the tests with this prelude force-included. It gives
// C++ the MQL5 built-ins those files use, with MQL5's meaning:
//
//   - the integer types uchar, ushort, uint, ulong (long is 64-bit on both);
//   - `string`, a value type with + and += for strings only: MQL5 turns
//     `"a" + 5` into "a5" while std::string would append the byte 5, so
//     number-to-text conversions are explicit in the shared code, and the
//     wrapper makes the C++ build refuse anything else;
//   - the string and math functions MQL5 programs call (StringLen,
//     StringSubstr, StringFind, IntegerToString, MathFloor, ...);
//   - ByteBuffer, the one growable byte array of the shared code (the MQL5
//     side wraps `uchar m_data[]` with ArrayResize's reserve): capacity is
//     reserved once, so the hot loop never allocates;
//   - the MQL5 types and constants the experts' event handlers see
//     (MqlTradeTransaction, INIT_SUCCEEDED, ...) and `input`/`sinput`.
//
// Nothing here is used by the MQL5 build; Include/Sigplane/Platform/
// Mql5Prelude.mqh is its counterpart.
#ifndef SIGPLANE_CPP_PRELUDE_HPP
#define SIGPLANE_CPP_PRELUDE_HPP

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

static_assert(sizeof(long) == 8, "MQL5's long is 64-bit: build on an LP64 platform");

typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;

// ---- string ----

class string {
 public:
  string() {}
  string(const char *text) : m_s(text == nullptr ? "" : text) {}
  string(const std::string &text) : m_s(text) {}
  string(const string &other) = default;
  string &operator=(const string &other) = default;
  string &operator=(const char *text) {
    m_s = text == nullptr ? "" : text;
    return *this;
  }
  string &operator+=(const string &other) {
    m_s += other.m_s;
    return *this;
  }
  string &operator+=(const char *text) {
    m_s += text;
    return *this;
  }
  bool operator==(const string &o) const { return m_s == o.m_s; }
  bool operator!=(const string &o) const { return m_s != o.m_s; }
  bool operator==(const char *o) const { return m_s == o; }
  bool operator!=(const char *o) const { return m_s != o; }
  // The platform layer's access to the bytes; the shared code never calls these.
  const std::string &Std() const { return m_s; }
  std::string &StdMutable() { return m_s; }
  const char *c_str() const { return m_s.c_str(); }
  // Refused: MQL5 would format the number as text here.
  string &operator+=(int) = delete;
  string &operator+=(long) = delete;
  string &operator+=(double) = delete;
  string &operator+=(char) = delete;

 private:
  std::string m_s;
};

inline string operator+(const string &a, const string &b) {
  std::string r = a.Std();
  r += b.Std();
  return string(r);
}
inline string operator+(const string &a, const char *b) { return a + string(b); }
inline string operator+(const char *a, const string &b) { return string(a) + b; }
string operator+(const string &, int) = delete;
string operator+(const string &, long) = delete;
string operator+(const string &, ulong) = delete;
string operator+(const string &, uint) = delete;
string operator+(const string &, double) = delete;
string operator+(const string &, char) = delete;
string operator+(int, const string &) = delete;
string operator+(long, const string &) = delete;
string operator+(double, const string &) = delete;

inline int StringLen(const string &s) { return (int)s.Std().size(); }

/** The character at `pos` (MQL5: a UTF-16 code unit; here a byte: the shared code only compares ASCII). */
inline ushort StringGetCharacter(const string &s, int pos) {
  if (pos < 0 || pos >= (int)s.Std().size()) return 0;
  return (ushort)(uchar)s.Std()[(size_t)pos];
}

inline string StringSubstr(const string &s, int start, int length = -1) {
  const std::string &t = s.Std();
  if (start < 0 || start >= (int)t.size()) return string("");
  if (length < 0) return string(t.substr((size_t)start));
  return string(t.substr((size_t)start, (size_t)length));
}

inline int StringFind(const string &s, const string &match, int start = 0) {
  if (start < 0) start = 0;
  size_t at = s.Std().find(match.Std(), (size_t)start);
  return at == std::string::npos ? -1 : (int)at;
}

/** One character as a string (MQL5: a UTF-16 code unit). */
inline string ShortToString(ushort c) { return string(std::string(1, (char)(uchar)c)); }

inline string IntegerToString(long number, int str_len = 0, ushort fill = ' ') {
  std::string s = std::to_string(number);
  while ((int)s.size() < str_len) s.insert(s.begin(), (char)fill);
  return string(s);
}

/** For logs only: the canonical formatting of prices is Include/Sigplane/PrintfFixed.mqh. */
inline string DoubleToString(double value, int digits = 8) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return string(buffer);
}

inline bool StringToUpper(string &s) {
  for (char &c : s.StdMutable()) {
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
  }
  return true;
}

// ---- math ----

inline double MathAbs(double v) { return std::fabs(v); }
inline long MathAbs(long v) { return v < 0 ? -v : v; }
inline int MathAbs(int v) { return v < 0 ? -v : v; }
inline double MathFloor(double v) { return std::floor(v); }
inline double MathCeil(double v) { return std::ceil(v); }
/** MQL5: to the nearest integer, halves away from zero (C's round). */
inline double MathRound(double v) { return std::round(v); }
inline double MathMin(double a, double b) { return a < b ? a : b; }
inline double MathMax(double a, double b) { return a > b ? a : b; }
inline long MathMin(long a, long b) { return a < b ? a : b; }
inline long MathMax(long a, long b) { return a > b ? a : b; }
inline int MathMin(int a, int b) { return a < b ? a : b; }
inline int MathMax(int a, int b) { return a > b ? a : b; }
inline double MathPow(double base, double exponent) { return std::pow(base, exponent); }
inline double MathSqrt(double v) { return std::sqrt(v); }
inline bool MathIsValidNumber(double v) { return std::isfinite(v); }

/** The IEEE 754 bits of a double, and back (MQL5: a union). */
inline ulong DoubleToBits(double v) {
  ulong bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}
inline double BitsToDouble(ulong bits) {
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// ---- ByteBuffer ----

/**
 * A byte array with a logical size and a reserved capacity. Within the
 * capacity nothing is allocated; past it the array grows (MQL5: ArrayResize
 * with a reserve), which the code avoids on every hot path by reserving the
 * named bounds of Include/Sigplane/Limits.mqh up front.
 */
class ByteBuffer {
 public:
  void Reserve(int capacity) {
    if (capacity > 0 && (size_t)capacity > m_data.capacity()) m_data.reserve((size_t)capacity);
  }
  int Size() const { return (int)m_data.size(); }
  int Capacity() const { return (int)m_data.capacity(); }
  void Clear() { m_data.clear(); }
  bool Resize(int size) {
    if (size < 0) return false;
    m_data.resize((size_t)size);
    return true;
  }
  uchar At(int i) const { return m_data[(size_t)i]; }
  void Set(int i, uchar v) { m_data[(size_t)i] = v; }
  void Push(uchar v) { m_data.push_back(v); }
  void Append(const ByteBuffer &src) { m_data.insert(m_data.end(), src.m_data.begin(), src.m_data.end()); }
  void AppendRange(const ByteBuffer &src, int from, int count) {
    m_data.insert(m_data.end(), src.m_data.begin() + from, src.m_data.begin() + from + count);
  }
  /** Remove `count` bytes at the front (what was consumed of a receive buffer). */
  void Consume(int count) {
    if (count >= (int)m_data.size()) {
      m_data.clear();
      return;
    }
    std::memmove(m_data.data(), m_data.data() + count, m_data.size() - (size_t)count);
    m_data.resize(m_data.size() - (size_t)count);
  }
  void CopyFrom(const ByteBuffer &src) { m_data.assign(src.m_data.begin(), src.m_data.end()); }
  bool Equals(const ByteBuffer &other) const { return m_data == other.m_data; }
  /** The bytes of `s` appended (UTF-8: C++ strings are UTF-8 already). */
  void AppendString(const string &s) { m_data.insert(m_data.end(), s.Std().begin(), s.Std().end()); }
  /** `count` bytes from `from` as text (UTF-8), into `out`. */
  void ToString(int from, int count, string &out) const {
    out.StdMutable().assign((const char *)m_data.data() + from, (size_t)count);
  }

  // The platform layer's access (sockets, hashes, sqlite); the shared code never calls these.
  const uchar *Data() const { return m_data.data(); }
  uchar *MutableData() { return m_data.data(); }

 private:
  std::vector<uchar> m_data;
};

// ---- what an expert's event handlers see ----

#define input
#define sinput

enum ENUM_INIT_RETCODE { INIT_SUCCEEDED = 0, INIT_FAILED = 1, INIT_PARAMETERS_INCORRECT = 2, INIT_AGENT_NOT_SUITABLE = 3 };

enum ENUM_TRADE_TRANSACTION_TYPE {
  TRADE_TRANSACTION_ORDER_ADD = 0,
  TRADE_TRANSACTION_ORDER_UPDATE = 1,
  TRADE_TRANSACTION_ORDER_DELETE = 2,
  TRADE_TRANSACTION_HISTORY_ADD = 3,
  TRADE_TRANSACTION_HISTORY_UPDATE = 4,
  TRADE_TRANSACTION_HISTORY_DELETE = 5,
  TRADE_TRANSACTION_DEAL_ADD = 6,
  TRADE_TRANSACTION_DEAL_UPDATE = 7,
  TRADE_TRANSACTION_DEAL_DELETE = 8,
  TRADE_TRANSACTION_POSITION = 9,
  TRADE_TRANSACTION_REQUEST = 10
};

enum ENUM_ORDER_TYPE {
  ORDER_TYPE_BUY = 0,
  ORDER_TYPE_SELL = 1,
  ORDER_TYPE_BUY_LIMIT = 2,
  ORDER_TYPE_SELL_LIMIT = 3,
  ORDER_TYPE_BUY_STOP = 4,
  ORDER_TYPE_SELL_STOP = 5,
  ORDER_TYPE_BUY_STOP_LIMIT = 6,
  ORDER_TYPE_SELL_STOP_LIMIT = 7,
  ORDER_TYPE_CLOSE_BY = 8
};

enum ENUM_DEAL_TYPE { DEAL_TYPE_BUY = 0, DEAL_TYPE_SELL = 1, DEAL_TYPE_BALANCE = 2 };

/** The fields of MQL5's MqlTradeTransaction that a trade produces here (the paper terminal fills them). */
struct MqlTradeTransaction {
  ulong deal = 0;
  ulong order = 0;
  string symbol;
  ENUM_TRADE_TRANSACTION_TYPE type = TRADE_TRANSACTION_REQUEST;
  ENUM_ORDER_TYPE order_type = ORDER_TYPE_BUY;
  ENUM_DEAL_TYPE deal_type = DEAL_TYPE_BUY;
  double price = 0;
  double price_sl = 0;
  double price_tp = 0;
  double volume = 0;
  ulong position = 0;
  ulong position_by = 0;
};

struct MqlTradeRequest {
  ulong magic = 0;
  ulong order = 0;
  string symbol;
  double volume = 0;
  double price = 0;
  double sl = 0;
  double tp = 0;
  ulong position = 0;
};

struct MqlTradeResult {
  uint retcode = 0;
  ulong deal = 0;
  ulong order = 0;
  double volume = 0;
  double price = 0;
};

// The terminal loop (cpp/terminal-loop.cpp) implements the timer.
bool EventSetMillisecondTimer(int milliseconds);
void EventKillTimer();

#endif
