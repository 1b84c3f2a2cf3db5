// A simulated MT5 trading account for the C++ build of the EAs: symbols
// with MT5's specifications, quotes around a mid price the test moves,
// market fills with seeded adverse slippage and requotes, hedging accounts
// (one position per fill) and netting accounts (one position per symbol:
// fills add, reduce or reverse it), stops, a balance that realizes
// profit, and the trade transactions MT5 would raise for each operation
// (OnTradeTransaction).
//
// Its state is a sqlite file of its own, written in one transaction per
// operation, so it outlives the EA process exactly as a broker account
// outlives a terminal: a test kills the EA with SIGKILL and the account
// still holds what was filled. Every fill is a row of `deals` (with the
// order's comment, the EA's idempotency key), which the tests read to
// prove that nothing was opened twice. `crashAfterNextFill` makes the
// process exit right after the next fill is written, before the EA sees
// the result: a terminal dying between the broker's fill and the EA's
// bookkeeping.
#ifndef SIGPLANE_CPP_PAPER_TERMINAL_HPP
#define SIGPLANE_CPP_PAPER_TERMINAL_HPP

#include <sqlite3.h>
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

struct PaperSymbol {
  std::string symbol;
  int digits = 5;
  double volumeMin = 0.01;
  double volumeMax = 50;
  double volumeStep = 0.01;
  double tickValue = 1;
  double tickSize = 0.00001;
  int spreadPoints = 0;
};

struct PaperPosition {
  ulong ticket = 0;
  std::string symbol;
  int type = 0;
  double volume = 0;
  double priceOpen = 0;
  double sl = 0;
  double tp = 0;
  ulong magic = 0;
  std::string comment;
};

struct PaperConfig {
  bool hedging = true;
  double balance = 10000;
  std::string currency = "USD";
  long login = 1000001;
  std::vector<PaperSymbol> symbols;
  unsigned long seed = 1;
  double requoteProbability = 0;
  int slippagePointsMax = 0;
};

class PaperTerminal {
 public:
  PaperConfig config;
  std::map<std::string, double> mids;
  std::vector<PaperPosition> positions;
  double balance = 0;
  ulong nextTicket = 1000;
  unsigned long rng = 1;
  bool crashAfterNextFill = false;
  /** Trade transactions of the last operation, for the terminal loop to hand to OnTradeTransaction. */
  std::vector<MqlTradeTransaction> transactions;

  /** Open the account file, creating it with `cfg` when new (an existing file keeps its state). */
  bool Open(const std::string &path, const PaperConfig &cfg) {
    config = cfg;
    if (sqlite3_open(path.c_str(), &m_db) != SQLITE_OK) return false;
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA synchronous=NORMAL");
    Exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    Exec("CREATE TABLE IF NOT EXISTS positions (ticket INTEGER PRIMARY KEY, symbol TEXT, type INTEGER, volume REAL, price_open REAL, sl REAL, tp REAL, magic TEXT, comment TEXT)");
    Exec("CREATE TABLE IF NOT EXISTS deals (ticket INTEGER PRIMARY KEY, order_ticket INTEGER, position INTEGER, symbol TEXT, type INTEGER, entry TEXT, volume REAL, price REAL, profit REAL, comment TEXT, magic TEXT, time_ms INTEGER)");
    Exec("CREATE TABLE IF NOT EXISTS mids (symbol TEXT PRIMARY KEY, mid REAL)");
    std::string value;
    if (Meta("balance", value)) {
      balance = std::strtod(value.c_str(), nullptr);
      Meta("next_ticket", value);
      nextTicket = std::strtoul(value.c_str(), nullptr, 10);
      Meta("rng", value);
      rng = std::strtoul(value.c_str(), nullptr, 10);
      Load();
    } else {
      balance = cfg.balance;
      rng = cfg.seed * 2654435761UL + 1;
      Save();
    }
    return true;
  }

  const PaperSymbol *Spec(const std::string &symbol) const {
    for (const PaperSymbol &s : config.symbols)
      if (s.symbol == symbol) return &s;
    return nullptr;
  }

  bool Quote(const std::string &symbol, double &bid, double &ask) const {
    const PaperSymbol *spec = Spec(symbol);
    auto mid = mids.find(symbol);
    if (spec == nullptr || mid == mids.end()) return false;
    double half = spec->spreadPoints * std::pow(10.0, -spec->digits) / 2;
    bid = Round(mid->second - half, spec->digits);
    ask = Round(mid->second + half, spec->digits);
    return true;
  }

  void SetMid(const std::string &symbol, double mid) {
    mids[symbol] = mid;
    Exec("BEGIN");
    sqlite3_stmt *s = Prepare("INSERT OR REPLACE INTO mids (symbol, mid) VALUES (?, ?)");
    sqlite3_bind_text(s, 1, symbol.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, mid);
    sqlite3_step(s);
    sqlite3_finalize(s);
    Exec("COMMIT");
  }

  double Equity() const {
    double floating = 0;
    for (const PaperPosition &p : positions) {
      double bid = 0, ask = 0;
      if (Quote(p.symbol, bid, ask)) floating += Profit(p, p.type == 0 ? bid : ask, p.volume);
    }
    return balance + floating;
  }

  /** A market order: a new position (hedging), or a change of the symbol's position (netting). */
  void Open(const std::string &symbol, int type, double volume, double sl, double tp, const std::string &comment, ulong magic, SpTradeResult &r) {
    r.Reset();
    transactions.clear();
    const PaperSymbol *spec = Spec(symbol);
    if (spec == nullptr) return Refuse(r, SP_RETCODE_INVALID);
    if ((int)comment.size() > SP_COMMENT_CHARS_MAX) return Refuse(r, SP_RETCODE_INVALID);
    if (type != 0 && type != 1) return Refuse(r, SP_RETCODE_INVALID);
    if (!VolumeValid(volume, *spec)) return Refuse(r, SP_RETCODE_INVALID_VOLUME);
    if (!(sl >= 0 && tp >= 0)) return Refuse(r, SP_RETCODE_INVALID_STOPS);
    double bid = 0, ask = 0;
    if (!Quote(symbol, bid, ask)) return Refuse(r, SP_RETCODE_PRICE_OFF);
    if (Requoted()) return Refuse(r, SP_RETCODE_REQUOTE);
    double price = FillPrice(type == 0 ? ask : bid, type == 0 ? 1 : -1, *spec);
    ulong order = nextTicket++;
    ulong deal = nextTicket++;
    PaperPosition *existing = nullptr;
    if (!config.hedging)
      for (PaperPosition &p : positions)
        if (p.symbol == symbol) existing = &p;
    std::string entry = "in";
    double profit = 0;
    ulong positionTicket = order;
    if (existing == nullptr) {
      PaperPosition p;
      p.ticket = order;
      p.symbol = symbol;
      p.type = type;
      p.volume = volume;
      p.priceOpen = price;
      p.sl = sl;
      p.tp = tp;
      p.magic = magic;
      p.comment = comment;
      positions.push_back(p);
    } else {
      positionTicket = existing->ticket;
      if (existing->type == type) {
        double total = RoundVolume(existing->volume + volume);
        existing->priceOpen = Round((existing->priceOpen * existing->volume + price * volume) / total, spec->digits);
        existing->volume = total;
      } else if (volume < existing->volume - SP_VOLUME_EPSILON) {
        entry = "out";
        profit = Profit(*existing, price, volume);
        existing->volume = RoundVolume(existing->volume - volume);
      } else if (std::fabs(volume - existing->volume) <= SP_VOLUME_EPSILON) {
        entry = "out";
        profit = Profit(*existing, price, volume);
        Remove(existing->ticket);
      } else {
        entry = "inout";
        profit = Profit(*existing, price, existing->volume);
        existing->volume = RoundVolume(volume - existing->volume);
        existing->type = type;
        existing->priceOpen = price;
        existing->sl = sl;
        existing->tp = tp;
      }
    }
    balance += profit;
    Book(deal, order, positionTicket, symbol, type, entry, volume, price, profit, comment, magic);
    r.ok = true;
    r.retcode = SP_RETCODE_DONE;
    r.ticket = positionTicket;
    r.price = price;
    r.volume = volume;
    if (entry != "in") {
      r.hasProfit = true;
      r.profit = profit;
    }
    DealTransactions(order, deal, positionTicket, symbol, type, price, volume, sl, tp);
    Committed();
  }

  /** Close `volume` lots of a position (all of it when equal). */
  void Close(ulong ticket, double volume, SpTradeResult &r) {
    r.Reset();
    transactions.clear();
    PaperPosition *p = Find(ticket);
    if (p == nullptr) return Refuse(r, SP_RETCODE_POSITION_CLOSED);
    const PaperSymbol *spec = Spec(p->symbol);
    double remaining = RoundVolume(p->volume - volume);
    if (!VolumeValid(volume, *spec) || volume > p->volume + SP_VOLUME_EPSILON) return Refuse(r, SP_RETCODE_INVALID_VOLUME);
    if (remaining > SP_VOLUME_EPSILON && remaining < spec->volumeMin - SP_VOLUME_EPSILON) return Refuse(r, SP_RETCODE_INVALID_VOLUME);
    double bid = 0, ask = 0;
    if (!Quote(p->symbol, bid, ask)) return Refuse(r, SP_RETCODE_PRICE_OFF);
    if (Requoted()) return Refuse(r, SP_RETCODE_REQUOTE);
    int closeType = p->type == 0 ? 1 : 0;
    double price = FillPrice(p->type == 0 ? bid : ask, p->type == 0 ? -1 : 1, *spec);
    double profit = Profit(*p, price, volume);
    balance += profit;
    ulong order = nextTicket++;
    ulong deal = nextTicket++;
    std::string symbol = p->symbol;
    std::string comment = p->comment;
    ulong magic = p->magic;
    if (remaining <= SP_VOLUME_EPSILON) Remove(ticket);
    else p->volume = remaining;
    Book(deal, order, ticket, symbol, closeType, "out", volume, price, profit, comment, magic);
    r.ok = true;
    r.retcode = SP_RETCODE_DONE;
    r.ticket = ticket;
    r.price = price;
    r.volume = volume;
    r.hasProfit = true;
    r.profit = profit;
    DealTransactions(order, deal, ticket, symbol, closeType, price, volume, 0, 0);
    Committed();
  }

  void Modify(ulong ticket, double sl, double tp, SpTradeResult &r) {
    r.Reset();
    transactions.clear();
    PaperPosition *p = Find(ticket);
    if (p == nullptr) return Refuse(r, SP_RETCODE_POSITION_CLOSED);
    if (!(sl >= 0 && tp >= 0)) return Refuse(r, SP_RETCODE_INVALID_STOPS);
    p->sl = sl;
    p->tp = tp;
    Save();
    r.ok = true;
    r.retcode = SP_RETCODE_DONE;
    r.ticket = ticket;
    r.volume = p->volume;
    MqlTradeTransaction t;
    t.type = TRADE_TRANSACTION_POSITION;
    t.position = ticket;
    t.symbol = string(p->symbol);
    t.price_sl = sl;
    t.price_tp = tp;
    t.volume = p->volume;
    transactions.push_back(t);
  }

  PaperPosition *Find(ulong ticket) {
    for (PaperPosition &p : positions)
      if (p.ticket == ticket) return &p;
    return nullptr;
  }

 private:
  sqlite3 *m_db = nullptr;

  void Exec(const char *sql) { sqlite3_exec(m_db, sql, nullptr, nullptr, nullptr); }
  sqlite3_stmt *Prepare(const char *sql) {
    sqlite3_stmt *s = nullptr;
    sqlite3_prepare_v2(m_db, sql, -1, &s, nullptr);
    return s;
  }

  bool Meta(const char *key, std::string &value) {
    sqlite3_stmt *s = Prepare("SELECT value FROM meta WHERE key = ?");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    bool found = sqlite3_step(s) == SQLITE_ROW;
    if (found) value = (const char *)sqlite3_column_text(s, 0);
    sqlite3_finalize(s);
    return found;
  }

  void Load() {
    positions.clear();
    sqlite3_stmt *s = Prepare("SELECT ticket, symbol, type, volume, price_open, sl, tp, magic, comment FROM positions ORDER BY ticket");
    while (sqlite3_step(s) == SQLITE_ROW) {
      PaperPosition p;
      p.ticket = (ulong)sqlite3_column_int64(s, 0);
      p.symbol = (const char *)sqlite3_column_text(s, 1);
      p.type = sqlite3_column_int(s, 2);
      p.volume = sqlite3_column_double(s, 3);
      p.priceOpen = sqlite3_column_double(s, 4);
      p.sl = sqlite3_column_double(s, 5);
      p.tp = sqlite3_column_double(s, 6);
      p.magic = std::strtoul((const char *)sqlite3_column_text(s, 7), nullptr, 10);
      p.comment = (const char *)sqlite3_column_text(s, 8);
      positions.push_back(p);
    }
    sqlite3_finalize(s);
    s = Prepare("SELECT symbol, mid FROM mids");
    while (sqlite3_step(s) == SQLITE_ROW) mids[(const char *)sqlite3_column_text(s, 0)] = sqlite3_column_double(s, 1);
    sqlite3_finalize(s);
  }

  /** Positions, balance, tickets and the generator, in one transaction (with the deal, when `deal` is set). */
  void Save() {
    Exec("BEGIN");
    WriteState();
    Exec("COMMIT");
  }

  void WriteState() {
    Exec("DELETE FROM positions");
    sqlite3_stmt *s = Prepare("INSERT INTO positions (ticket, symbol, type, volume, price_open, sl, tp, magic, comment) VALUES (?,?,?,?,?,?,?,?,?)");
    for (const PaperPosition &p : positions) {
      sqlite3_bind_int64(s, 1, (sqlite3_int64)p.ticket);
      sqlite3_bind_text(s, 2, p.symbol.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(s, 3, p.type);
      sqlite3_bind_double(s, 4, p.volume);
      sqlite3_bind_double(s, 5, p.priceOpen);
      sqlite3_bind_double(s, 6, p.sl);
      sqlite3_bind_double(s, 7, p.tp);
      sqlite3_bind_text(s, 8, std::to_string(p.magic).c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(s, 9, p.comment.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_step(s);
      sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    SetMeta("balance", Format17(balance));
    SetMeta("next_ticket", std::to_string(nextTicket));
    SetMeta("rng", std::to_string(rng));
  }

  void SetMeta(const char *key, const std::string &value) {
    sqlite3_stmt *s = Prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, value.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
  }

  static std::string Format17(double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", v);
    return buffer;
  }

  void Book(ulong deal, ulong order, ulong position, const std::string &symbol, int type, const std::string &entry, double volume, double price,
            double profit, const std::string &comment, ulong magic) {
    Exec("BEGIN");
    sqlite3_stmt *s = Prepare(
        "INSERT INTO deals (ticket, order_ticket, position, symbol, type, entry, volume, price, profit, comment, magic, time_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_int64(s, 1, (sqlite3_int64)deal);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)order);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)position);
    sqlite3_bind_text(s, 4, symbol.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 5, type);
    sqlite3_bind_text(s, 6, entry.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 7, volume);
    sqlite3_bind_double(s, 8, price);
    sqlite3_bind_double(s, 9, profit);
    sqlite3_bind_text(s, 10, comment.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 11, std::to_string(magic).c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 12, PlatformNowMs());
    sqlite3_step(s);
    sqlite3_finalize(s);
    WriteState();
    Exec("COMMIT");
  }

  /** The fill is on disk: a requested crash happens now, before the EA hears of it. */
  void Committed() {
    if (crashAfterNextFill) {
      EmitJsonLine("{\"log\":\"warn\",\"code\":\"SIMULATED_CRASH\",\"msg\":\"exiting right after a fill\"}");
      _exit(137);
    }
  }

  void DealTransactions(ulong order, ulong deal, ulong position, const std::string &symbol, int type, double price, double volume, double sl, double tp) {
    MqlTradeTransaction t;
    t.symbol = string(symbol);
    t.order = order;
    t.order_type = (ENUM_ORDER_TYPE)type;
    t.volume = volume;
    t.price = price;
    t.price_sl = sl;
    t.price_tp = tp;
    t.type = TRADE_TRANSACTION_ORDER_ADD;
    transactions.push_back(t);
    MqlTradeTransaction d = t;
    d.type = TRADE_TRANSACTION_DEAL_ADD;
    d.deal = deal;
    d.deal_type = (ENUM_DEAL_TYPE)type;
    d.position = position;
    transactions.push_back(d);
    t.type = TRADE_TRANSACTION_ORDER_DELETE;
    transactions.push_back(t);
    t.type = TRADE_TRANSACTION_HISTORY_ADD;
    transactions.push_back(t);
    MqlTradeTransaction q;
    q.type = TRADE_TRANSACTION_REQUEST;
    transactions.push_back(q);
  }

  void Remove(ulong ticket) {
    for (size_t i = 0; i < positions.size(); i++)
      if (positions[i].ticket == ticket) {
        positions.erase(positions.begin() + (long)i);
        return;
      }
  }

  void Refuse(SpTradeResult &r, int retcode) {
    r.ok = false;
    r.retcode = retcode;
    r.transient = SpRetcodeIsTransient(retcode);
    Save();
  }

  double Random() {
    // splitmix64
    rng += 0x9E3779B97F4A7C15UL;
    unsigned long z = rng;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z = z ^ (z >> 31);
    return (double)(z >> 11) / 9007199254740992.0;
  }

  bool Requoted() { return Random() < config.requoteProbability; }

  double FillPrice(double quoted, int against, const PaperSymbol &spec) {
    int points = (int)std::floor(Random() * (config.slippagePointsMax + 1));
    return Round(quoted + against * points * std::pow(10.0, -spec.digits), spec.digits);
  }

  double Profit(const PaperPosition &p, double closePrice, double volume) const {
    const PaperSymbol *spec = Spec(p.symbol);
    double move = p.type == 0 ? closePrice - p.priceOpen : p.priceOpen - closePrice;
    return move / spec->tickSize * spec->tickValue * volume;
  }

  static bool VolumeValid(double volume, const PaperSymbol &spec) {
    double steps = volume / spec.volumeStep;
    return volume >= spec.volumeMin - SP_VOLUME_EPSILON && volume <= spec.volumeMax + SP_VOLUME_EPSILON && std::fabs(steps - std::round(steps)) < 1e-6;
  }

  static double Round(double price, int digits) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, price);
    return std::strtod(buffer, nullptr);
  }

  static double RoundVolume(double v) { return std::round(v * 1e8) / 1e8; }
};

inline PaperTerminal g_terminal;

#endif
