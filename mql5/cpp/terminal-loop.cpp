// A simulated MT5 terminal for one expert: it compiles the expert's .mq5
// file (expert.inc, made by build.sh) and calls its event handlers the way
// a terminal does, on one thread: OnInit, OnTimer at the timer's period,
// OnTick when a price moves, OnTradeTransaction after each trade (queued,
// delivered after the handler that traded returns), OnDeinit on `quit` or
// SIGTERM. The account is the paper terminal (platform/paper-terminal.hpp).
//
// Usage: sigplane-{master,receiver}-ea --terminal FILE [--netting]
//        [--balance N] [--currency C] [--login N] [--seed N] [--requote P]
//        [--slippage POINTS] [--symbol NAME,DIGITS,MIN,MAX,STEP,TICKVALUE,TICKSIZE,SPREAD]...
//        [--input NAME=VALUE]...
// Environment: SIGPLANE_EA_FILES (state files), SIGPLANE_EA_CA_FILE (trusted CAs).
//
// Commands, one per stdin line; answers and logs are JSON lines on stdout:
//   open SYMBOL SIDE VOLUME SL TP MAGIC | close TICKET [VOLUME] | modify TICKET SL TP
//   mid SYMBOL PRICE | status | positions | allocs | crash-after-next-fill | quit
// (`allocs`: operator new calls made inside the expert's event handlers so far.)
// operator new is replaced below with malloc/free: GCC cannot see the pairing through the replacement.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <expert.inc>

#include <poll.h>
#include <signal.h>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <new>
#include <sstream>

// ---- allocation counting (the hot loop must not allocate) ----

// Allocations made inside the expert's event handlers (not the loop's own command handling).
static std::atomic<long> g_allocations{0};
static bool g_inHandler = false;

void *operator new(size_t size) {
  if (g_inHandler) g_allocations.fetch_add(1, std::memory_order_relaxed);
  void *p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, size_t) noexcept { std::free(p); }

// ---- the timer and the transaction queue ----

static int g_timerMs = 0;
static std::deque<MqlTradeTransaction> g_pendingTransactions;
static volatile sig_atomic_t g_terminate = 0;

bool EventSetMillisecondTimer(int milliseconds) {
  g_timerMs = milliseconds;
  return true;
}
void EventKillTimer() { g_timerMs = 0; }

void PlatformTransactionsRaised() {
  for (const MqlTradeTransaction &t : g_terminal.transactions) g_pendingTransactions.push_back(t);
  g_terminal.transactions.clear();
}

static void DispatchTransactions() {
  while (!g_pendingTransactions.empty()) {
    MqlTradeTransaction t = g_pendingTransactions.front();
    g_pendingTransactions.pop_front();
#ifdef SP_EXPERT_MASTER
    MqlTradeRequest request;
    MqlTradeResult result;
    g_inHandler = true;
    OnTradeTransaction(t, request, result);
    g_inHandler = false;
#endif
  }
}

// ---- inputs ----

static bool SetInput(const std::string &name, const std::string &value) {
#ifdef SP_EXPERT_MASTER
  if (name == "ServerUrl") ServerUrl = string(value);
  else if (name == "MasterToken") MasterToken = string(value);
  else if (name == "KeyId") KeyId = string(value);
  else if (name == "MacSecret") MacSecret = string(value);
  else if (name == "SigningVersion") SigningVersion = std::atoi(value.c_str());
  else if (name == "TimerMs") TimerMs = std::atoi(value.c_str());
  else if (name == "InstanceName") InstanceName = string(value);
  else if (name == "CertificateThumbprint") CertificateThumbprint = string(value);
  else return false;
#endif
#ifdef SP_EXPERT_RECEIVER
  if (name == "ServerUrl") ServerUrl = string(value);
  else if (name == "LicenseToken") LicenseToken = string(value);
  else if (name == "TimerMs") TimerMs = std::atoi(value.c_str());
  else if (name == "InstanceName") InstanceName = string(value);
  else if (name == "Slippage") Slippage = std::atoi(value.c_str());
  else if (name == "CertificateThumbprint") CertificateThumbprint = string(value);
  else return false;
#endif
  return true;
}

static PaperSymbol ParseSymbol(const std::string &spec) {
  PaperSymbol s;
  std::stringstream in(spec);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(in, part, ',')) parts.push_back(part);
  if (parts.size() != 8) {
    std::fprintf(stderr, "--symbol NAME,DIGITS,MIN,MAX,STEP,TICKVALUE,TICKSIZE,SPREAD\n");
    std::exit(2);
  }
  s.symbol = parts[0];
  s.digits = std::atoi(parts[1].c_str());
  s.volumeMin = std::strtod(parts[2].c_str(), nullptr);
  s.volumeMax = std::strtod(parts[3].c_str(), nullptr);
  s.volumeStep = std::strtod(parts[4].c_str(), nullptr);
  s.tickValue = std::strtod(parts[5].c_str(), nullptr);
  s.tickSize = std::strtod(parts[6].c_str(), nullptr);
  s.spreadPoints = std::atoi(parts[7].c_str());
  return s;
}

static std::string Num(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

static void Reply(const std::string &body) { EmitJsonLine("{\"reply\":" + body + "}"); }

static std::string TradeJson(const char *what, const SpTradeResult &r) {
  return std::string("\"") + what + "\",\"ok\":" + (r.ok ? "true" : "false") + ",\"retcode\":" + std::to_string(r.retcode) + ",\"ticket\":" +
         std::to_string(r.ticket) + ",\"price\":" + Num(r.price) + ",\"volume\":" + Num(r.volume);
}

static std::string Status() {
  std::ostringstream o;
#ifdef SP_EXPERT_MASTER
  o << "\"status\",\"welcomed\":" << (g_master.Welcomed() ? "true" : "false") << ",\"stopped\":" << (g_master.Stopped() ? "true" : "false")
    << ",\"lastAssigned\":" << g_master.LastAssigned() << ",\"outbox\":" << g_master.OutboxSize() << ",\"needsSnapshot\":"
    << (g_master.NeedsSnapshot() ? "true" : "false") << ",\"published\":" << g_master.PublishedPositions() << ",\"signals\":" << g_master.SignalsPublished()
    << ",\"acks\":" << g_master.Acks() << ",\"snapshots\":" << g_master.SnapshotsSent() << ",\"framesSent\":" << g_master.FramesSent() << ",\"reconciles\":" << g_master.Reconciles()
    << ",\"state\":" << g_master.ServerState() << ",\"subscriptionId\":" << JsonQuote(g_master.SubscriptionId().Std());
#endif
#ifdef SP_EXPERT_RECEIVER
  o << "\"status\",\"welcomed\":" << (g_receiver.Welcomed() ? "true" : "false") << ",\"hasLastSequence\":" << (g_receiver.HasLastSequence() ? "true" : "false")
    << ",\"lastSequence\":" << g_receiver.LastSequence() << ",\"copies\":" << g_receiver.Copies() << ",\"unackedReports\":" << g_receiver.UnackedReports()
    << ",\"settingsRevision\":" << g_receiver.SettingsRevision() << ",\"deliveries\":" << g_receiver.DeliveriesApplied() << ",\"acksSent\":" << g_receiver.AcksSent()
    << ",\"snapshots\":" << g_receiver.SnapshotsApplied() << ",\"failures\":" << g_receiver.ApplyFailures() << ",\"state\":" << g_receiver.ServerState();
#endif
  return o.str();
}

static std::string Positions() {
  std::ostringstream o;
  o << "\"positions\",\"equity\":" << Num(g_terminal.Equity()) << ",\"positions\":[";
  for (size_t i = 0; i < g_terminal.positions.size(); i++) {
    const PaperPosition &p = g_terminal.positions[i];
    o << (i ? "," : "") << "{\"ticket\":" << p.ticket << ",\"symbol\":" << JsonQuote(p.symbol) << ",\"type\":" << p.type << ",\"volume\":" << Num(p.volume)
      << ",\"priceOpen\":" << Num(p.priceOpen) << ",\"sl\":" << Num(p.sl) << ",\"tp\":" << Num(p.tp) << ",\"magic\":" << p.magic
      << ",\"comment\":" << JsonQuote(p.comment) << "}";
  }
  o << "]";
  return o.str();
}

/** One command; false on quit. */
static bool Command(const std::string &line) {
  std::istringstream in(line);
  std::string command;
  in >> command;
  SpTradeResult r;
  if (command == "open") {
    std::string symbol;
    int side;
    double volume, sl, tp;
    ulong magic;
    in >> symbol >> side >> volume >> sl >> tp >> magic;
    g_terminal.Open(symbol, side, volume, sl, tp, "", magic, r);
    PlatformTransactionsRaised();
    Reply(TradeJson("open", r));
  } else if (command == "close") {
    ulong ticket;
    double volume = 0;
    in >> ticket;
    if (!(in >> volume)) {
      PaperPosition *p = g_terminal.Find(ticket);
      volume = p == nullptr ? 0 : p->volume;
    }
    g_terminal.Close(ticket, volume, r);
    PlatformTransactionsRaised();
    Reply(TradeJson("close", r));
  } else if (command == "modify") {
    ulong ticket;
    double sl, tp;
    in >> ticket >> sl >> tp;
    g_terminal.Modify(ticket, sl, tp, r);
    PlatformTransactionsRaised();
    Reply(TradeJson("modify", r));
  } else if (command == "mid") {
    std::string symbol;
    double mid;
    in >> symbol >> mid;
    g_terminal.SetMid(symbol, mid);
    g_inHandler = true;
    OnTick();
    g_inHandler = false;
    Reply("\"mid\"");
  } else if (command == "status") {
    Reply(Status());
  } else if (command == "positions") {
    Reply(Positions());
  } else if (command == "allocs") {
    Reply("\"allocs\",\"count\":" + std::to_string(g_allocations.load()));
  } else if (command == "crash-after-next-fill") {
    g_terminal.crashAfterNextFill = true;
    Reply("\"crash-after-next-fill\"");
  } else if (command == "quit") {
    return false;
  } else if (!command.empty()) {
    Reply("\"unknown\",\"line\":" + JsonQuote(line));
  }
  DispatchTransactions();
  return true;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, [](int) { g_terminate = 1; });
  PaperConfig config;
  std::string terminalFile;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    std::string next = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--terminal") terminalFile = argv[++i];
    else if (arg == "--netting") config.hedging = false;
    else if (arg == "--balance") config.balance = std::strtod(argv[++i], nullptr);
    else if (arg == "--currency") config.currency = argv[++i];
    else if (arg == "--login") config.login = std::atol(argv[++i]);
    else if (arg == "--seed") config.seed = std::strtoul(argv[++i], nullptr, 10);
    else if (arg == "--requote") config.requoteProbability = std::strtod(argv[++i], nullptr);
    else if (arg == "--slippage") config.slippagePointsMax = std::atoi(argv[++i]);
    else if (arg == "--symbol") config.symbols.push_back(ParseSymbol(argv[++i]));
    else if (arg == "--input") {
      std::string kv = argv[++i];
      size_t eq = kv.find('=');
      if (eq == std::string::npos || !SetInput(kv.substr(0, eq), kv.substr(eq + 1))) {
        std::fprintf(stderr, "unknown input %s\n", kv.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  if (terminalFile.empty() || !g_terminal.Open(terminalFile, config)) {
    std::fprintf(stderr, "--terminal FILE is required (and must open)\n");
    return 2;
  }
  int init = OnInit();
  if (init != INIT_SUCCEEDED) {
    EmitJsonLine("{\"event\":\"init-failed\",\"code\":" + std::to_string(init) + "}");
    return 3;
  }
  EmitJsonLine("{\"event\":\"ready\"}");
  long nextTimer = PlatformMonotonicMs() + (g_timerMs > 0 ? g_timerMs : 1000);
  std::string buffered;
  bool running = true;
  while (running && !g_terminate) {
    long now = PlatformMonotonicMs();
    int wait = g_timerMs > 0 ? (int)std::max(0L, nextTimer - now) : 1000;
    pollfd p{0, POLLIN, 0};
    int ready = poll(&p, 1, wait);
    if (ready > 0 && (p.revents & (POLLIN | POLLHUP))) {
      char chunk[4096];
      ssize_t n = read(0, chunk, sizeof chunk);
      if (n <= 0) {
        running = false;
      } else {
        buffered.append(chunk, (size_t)n);
        size_t at;
        while (running && (at = buffered.find('\n')) != std::string::npos) {
          std::string line = buffered.substr(0, at);
          buffered.erase(0, at + 1);
          running = Command(line);
        }
      }
    }
    now = PlatformMonotonicMs();
    if (g_timerMs > 0 && now >= nextTimer) {
      g_inHandler = true;
      OnTimer();
      g_inHandler = false;
      DispatchTransactions();
      nextTimer = now + g_timerMs;
    }
  }
  OnDeinit(0);
  EmitJsonLine("{\"event\":\"stopped\"}");
  return 0;
}
