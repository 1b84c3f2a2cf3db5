// The shared code's pure parts, one command per stdin line, one answer per
// stdout line, for test/metatrader/*.test.ts to compare with RFC vectors,
// the v1 fixtures, glibc's printf, the TypeScript codec, copy rules and
// receiver ack policy.
// Doubles travel as their 16 hex digit bit patterns, so nothing is rounded
// on the way.
#include <Sigplane/Signing.mqh>
#include <Sigplane/WsClient.mqh>
#include <Sigplane/CopyRules.mqh>
#include <Sigplane/ReceiverAcks.mqh>

#include <iostream>
#include <sstream>

bool EventSetMillisecondTimer(int) { return true; }
void EventKillTimer() {}
void PlatformTransactionsRaised() { g_terminal.transactions.clear(); }

static ByteBuffer FromHex(const std::string &hex) {
  ByteBuffer b;
  if (hex != "-") SpHexToBytes(string(hex), b);
  return b;
}

static std::string ToHex(const ByteBuffer &b) { return SpBytesToHex(b, 0, b.Size()).Std(); }

static double Bits(const std::string &hex) { return BitsToDouble(std::stoul(hex, nullptr, 16)); }

static std::string BitsOf(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%016lx", DoubleToBits(v));
  return buffer;
}

static std::string Q(const string &s) { return JsonQuote(s.Std()); }

static std::string SignalJson(const SpSignalBody &b) {
  std::ostringstream o;
  o << "{\"subscriptionId\":" << Q(b.subscriptionId) << ",\"sequence\":\"" << b.sequence << "\",\"generatedAt\":\"" << b.generatedAt
    << "\",\"symbol\":" << Q(b.symbol) << ",\"orderType\":" << b.orderType << ",\"volume\":\"" << BitsOf(b.volume) << "\",\"price\":\""
    << BitsOf(b.price) << "\",\"action\":" << b.action << ",\"positionId\":\"" << b.positionId << "\",\"stopLoss\":\"" << BitsOf(b.stopLoss)
    << "\",\"takeProfit\":\"" << BitsOf(b.takeProfit) << "\",\"magic\":\"" << b.magic << "\"}";
  return o.str();
}

static std::string PositionJson(const SpPosition &p) {
  std::ostringstream o;
  o << "{\"positionId\":" << Q(p.positionId) << ",\"symbol\":" << Q(p.symbol) << ",\"orderType\":" << p.orderType << ",\"volume\":\""
    << BitsOf(p.volume) << "\",\"openPrice\":\"" << BitsOf(p.openPrice) << "\",\"stopLoss\":\"" << BitsOf(p.stopLoss) << "\",\"takeProfit\":\""
    << BitsOf(p.takeProfit) << "\",\"magic\":\"" << p.magic << "\",\"openedSequence\":\"" << p.openedSequence << "\"}";
  return o.str();
}

static std::string SettingsJson(const SpCopySettings &s) {
  std::ostringstream o;
  o << "{\"symbolPrefix\":" << Q(s.symbolPrefix) << ",\"symbolSuffix\":" << Q(s.symbolSuffix) << ",\"symbolMap\":{";
  for (int i = 0; i < s.mapCount; i++) o << (i ? "," : "") << Q(s.mapFrom[i]) << ":" << Q(s.mapTo[i]);
  o << "},\"lotMode\":" << s.lotMode << ",\"lotValue\":\"" << BitsOf(s.lotValue) << "\",\"masterEquity\":\"" << BitsOf(s.masterEquity)
    << "\",\"lotMin\":\"" << BitsOf(s.lotMin) << "\",\"lotMax\":\"" << BitsOf(s.lotMax) << "\",\"reverse\":" << (s.reverse ? "true" : "false")
    << ",\"copyStopLoss\":" << (s.copyStopLoss ? "true" : "false") << ",\"copyTakeProfit\":" << (s.copyTakeProfit ? "true" : "false")
    << ",\"symbolsAllowed\":[";
  for (int i = 0; i < s.symbolsAllowedCount; i++) o << (i ? "," : "") << Q(s.symbolsAllowed[i]);
  o << "],\"symbolsBlocked\":[";
  for (int i = 0; i < s.symbolsBlockedCount; i++) o << (i ? "," : "") << Q(s.symbolsBlocked[i]);
  o << "],\"magicsAllowed\":[";
  for (int i = 0; i < s.magicsAllowedCount; i++) o << (i ? "," : "") << "\"" << s.magicsAllowed[i] << "\"";
  o << "],\"magicsBlocked\":[";
  for (int i = 0; i < s.magicsBlockedCount; i++) o << (i ? "," : "") << "\"" << s.magicsBlocked[i] << "\"";
  o << "],\"priceDeviationPipsMax\":\"" << BitsOf(s.priceDeviationPipsMax) << "\",\"signalAgeMsMax\":" << s.signalAgeMsMax
    << ",\"copyOpenPositions\":" << (s.copyOpenPositions ? "true" : "false") << "}";
  return o.str();
}

static std::string Decode(const ByteBuffer &frame) {
  static SpInbound in;
  int kind = in.Decode(frame, 0, frame.Size());
  std::ostringstream o;
  o << "{\"kind\":" << kind;
  switch (kind) {
    case SP_FRAME_WELCOME:
      o << ",\"subscriptionId\":" << Q(in.welcome.subscriptionId) << ",\"state\":" << in.welcome.state << ",\"lastSequence\":\""
        << in.welcome.lastSequence << "\",\"role\":" << Q(in.welcome.role) << ",\"signalsPerSecond\":" << in.welcome.signalsPerSecond
        << ",\"signalsBurst\":" << in.welcome.signalsBurst;
      break;
    case SP_FRAME_ACK:
      o << ",\"sequence\":\"" << in.ack.sequence << "\",\"status\":" << in.ack.status;
      break;
    case SP_FRAME_REJECT:
      o << ",\"code\":" << in.reject.code << ",\"message\":" << Q(in.reject.message) << ",\"sequence\":\"" << in.reject.sequence << "\"";
      break;
    case SP_FRAME_SYNC_REQUEST:
      o << ",\"from\":\"" << in.syncRequest.fromSequence << "\",\"to\":\"" << in.syncRequest.toSequence << "\",\"full\":" << (in.syncRequest.full ? "true" : "false");
      break;
    case SP_FRAME_STATE_CHANGE:
      o << ",\"state\":" << in.stateChange.state << ",\"sequence\":\"" << in.stateChange.sequence << "\",\"reason\":" << Q(in.stateChange.reason);
      break;
    case SP_FRAME_DELIVERY:
      o << ",\"subscriptionId\":" << Q(in.delivery.subscriptionId) << ",\"sequence\":\"" << in.delivery.sequence << "\",\"signingVersion\":"
        << in.delivery.signingVersion << ",\"acceptedAt\":\"" << in.delivery.acceptedAt << "\",\"signal\":" << SignalJson(in.delivery.signal);
      break;
    case SP_FRAME_SNAPSHOT:
      o << ",\"subscriptionId\":" << Q(in.snapshot.subscriptionId) << ",\"sequence\":\"" << in.snapshot.sequence << "\",\"positions\":[";
      for (int i = 0; i < in.snapshot.positions.count; i++) o << (i ? "," : "") << PositionJson(in.snapshot.positions.items[i]);
      o << "]";
      break;
    case SP_FRAME_RECEIVER_SETTINGS: {
      SpCopySettings resolved;
      resolved.CopyFrom(in.settings.settings);
      string problem = SpResolveCopySettings(resolved);
      o << ",\"subscriptionId\":" << Q(in.settings.subscriptionId) << ",\"revision\":\"" << in.settings.revision << "\",\"problem\":" << Q(problem)
        << ",\"settings\":" << SettingsJson(resolved);
      break;
    }
    case SP_FRAME_EXECUTION_REPORT_ACK:
      o << ",\"sequence\":\"" << in.executionReportAck.sequence << "\",\"masterPositionId\":" << Q(in.executionReportAck.masterPositionId)
        << ",\"kindOf\":" << in.executionReportAck.kind;
      break;
    case SP_FRAME_HEARTBEAT:
      o << ",\"sentAt\":\"" << in.heartbeatSentAt << "\"";
      break;
    case SP_FRAME_SIGNAL_V2: {
      SpSignalBody body;
      bool ok = in.DecodeBody(frame, in.signedBodyStart, in.signedBodyLength, body);
      o << ",\"keyId\":" << Q(in.signedKeyId) << ",\"mac\":\"" << ToHex(in.signedMac) << "\",\"bodyOk\":" << (ok ? "true" : "false")
        << ",\"signal\":" << SignalJson(body);
      break;
    }
    default:
      break;
  }
  o << "}";
  return o.str();
}

static void ReadSignal(std::istringstream &in, SpSignalBody &b) {
  std::string sub, symbol, vol, price;
  in >> sub >> b.sequence >> b.generatedAt >> symbol >> b.orderType >> vol >> price;
  b.subscriptionId = string(sub);
  b.symbol = string(symbol);
  b.volume = Bits(vol);
  b.price = Bits(price);
}

static void ReadSettings(std::istringstream &in, SpCopySettings &s) {
  // lotMode lotValue masterEquity lotMin lotMax reverse copySL copyTP devMax ageMax prefix suffix blockedMagic allowedSymbol
  std::string lv, me, lmin, lmax, dev, prefix, suffix, allowed;
  int reverse, csl, ctp;
  ulong blockedMagic;
  in >> s.lotMode >> lv >> me >> lmin >> lmax >> reverse >> csl >> ctp >> dev >> s.signalAgeMsMax >> prefix >> suffix >> blockedMagic >> allowed;
  if (blockedMagic != 0) s.AddMagicBlocked(blockedMagic);
  if (allowed != "-") s.AddSymbolAllowed(string(allowed));
  s.lotValue = Bits(lv);
  s.masterEquity = Bits(me);
  s.lotMin = Bits(lmin);
  s.lotMax = Bits(lmax);
  s.reverse = reverse != 0;
  s.copyStopLoss = csl != 0;
  s.copyTakeProfit = ctp != 0;
  s.priceDeviationPipsMax = Bits(dev);
  s.symbolPrefix = string(prefix == "-" ? "" : prefix);
  s.symbolSuffix = string(suffix == "-" ? "" : suffix);
}

static void ReadSpec(std::istringstream &in, SpSymbolSpec &spec) {
  std::string vmin, vmax, step, tv, ts;
  in >> spec.digits >> vmin >> vmax >> step >> tv >> ts;
  spec.volumeMin = Bits(vmin);
  spec.volumeMax = Bits(vmax);
  spec.volumeStep = Bits(step);
  spec.tickValue = Bits(tv);
  spec.tickSize = Bits(ts);
}

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  SpSigner signer;
  SpHmacSha256 hmac;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string command;
    in >> command;
    std::string out;
    if (command == "hmac") {
      std::string key, message;
      in >> key >> message;
      ByteBuffer mac;
      hmac.Compute(FromHex(key), FromHex(message), mac);
      out = ToHex(mac);
    } else if (command == "fmt") {
      int decimals;
      std::string bits;
      in >> decimals >> bits;
      out = SpFormatFixed(Bits(bits), decimals).Std();
    } else if (command == "v1") {
      std::string secret;
      in >> secret;
      SpSignalBody b;
      ReadSignal(in, b);
      string problem = signer.Configure(1, "", string(secret));
      out = problem != "" ? problem.Std() : (SpV1Payload(b) + " " + signer.SignatureV1(b)).Std();
    } else if (command == "v1-text-secret") {
      // v1 with a secret that is not a 64-hex MAC secret (the fixtures' own secrets): HMAC over the text's bytes.
      std::string secretHex;
      in >> secretHex;
      SpSignalBody b;
      ReadSignal(in, b);
      ByteBuffer payload, mac;
      payload.AppendString(SpV1Payload(b));
      hmac.Compute(FromHex(secretHex), payload, mac);
      out = SpV1Payload(b).Std() + " " + ToHex(mac);
    } else if (command == "sign-v2" || command == "sign-v1") {
      std::string secret, keyId;
      in >> secret >> keyId;
      SpSignalBody b;
      ReadSignal(in, b);
      std::string sl, tp;
      in >> b.action >> b.positionId >> sl >> tp >> b.magic;
      b.stopLoss = Bits(sl);
      b.takeProfit = Bits(tp);
      string problem = signer.Configure(command == "sign-v2" ? 2 : 1, string(keyId), string(secret));
      ByteBuffer frame;
      if (problem == "") signer.SignalFrame(b, frame);
      out = problem != "" ? problem.Std() : ToHex(frame);
    } else if (command == "snapshot-v2") {
      // secret keyId subscription sequence generatedAt then per position: id symbol type volBits priceBits slBits tpBits magic openedSeq
      std::string secret, keyId, sub;
      ulong sequence;
      long generatedAt;
      int count;
      in >> secret >> keyId >> sub >> sequence >> generatedAt >> count;
      static SpPositionList list;
      list.Clear();
      for (int i = 0; i < count; i++) {
        int at = list.Add();
        SpPosition &p = list.items[at];
        std::string id, symbol, v, pr, sl, tp;
        in >> id >> symbol >> p.orderType >> v >> pr >> sl >> tp >> p.magic >> p.openedSequence;
        p.positionId = string(id);
        p.symbol = string(symbol);
        p.volume = Bits(v);
        p.openPrice = Bits(pr);
        p.stopLoss = Bits(sl);
        p.takeProfit = Bits(tp);
      }
      signer.Configure(2, string(keyId), string(secret));
      ByteBuffer frame;
      signer.SnapshotFrame(string(sub), sequence, generatedAt, list, frame);
      out = ToHex(frame);
    } else if (command == "decode") {
      std::string hex;
      in >> hex;
      out = Decode(FromHex(hex));
    } else if (command == "encode-report") {
      SpExecutionReport r;
      std::string id, ticket, rv, v, p, sp, pr, cur, reason;
      int hp, hs, hd, hpr;
      in >> r.sequence >> id >> r.kind >> r.outcome >> ticket >> rv >> v >> hp >> p >> hs >> sp >> hd >> r.delayMs >> hpr >> pr >> cur >> reason >> r.executedAt;
      r.masterPositionId = string(id);
      r.ticket = string(ticket == "-" ? "" : ticket);
      r.requestedVolume = Bits(rv);
      r.volume = Bits(v);
      r.hasPrice = hp != 0;
      r.price = Bits(p);
      r.hasSlippage = hs != 0;
      r.slippagePips = Bits(sp);
      r.hasDelay = hd != 0;
      r.hasProfit = hpr != 0;
      r.profit = Bits(pr);
      r.currency = string(cur == "-" ? "" : cur);
      r.reason = string(reason == "-" ? "" : reason);
      SpFrameEncoder e;
      ByteBuffer frame;
      e.ExecutionReport(r, frame);
      out = ToHex(frame);
    } else if (command == "encode-control") {
      // subscribe HAS LAST | delivery-ack SEQ | sync FROM TO FULL | heartbeat AT
      std::string what;
      in >> what;
      SpFrameEncoder e;
      ByteBuffer frame;
      if (what == "subscribe") {
        int has;
        ulong last;
        in >> has >> last;
        e.Subscribe(has != 0, last, frame);
      } else if (what == "delivery-ack") {
        ulong s;
        in >> s;
        e.DeliveryAck(s, frame);
      } else if (what == "sync") {
        ulong f, t;
        int full;
        in >> f >> t >> full;
        e.SyncRequest(f, t, full != 0, frame);
      } else {
        long at;
        in >> at;
        e.Heartbeat(at, frame);
      }
      out = ToHex(frame);
    } else if (command == "accept") {
      std::string key;
      in >> key;
      out = SpWebSocketAccept(string(key)).Std();
    } else if (command == "ws-encode") {
      int opcode;
      std::string payload, mask;
      in >> opcode >> payload >> mask;
      ByteBuffer p = FromHex(payload), m = FromHex(mask), frame;
      SpWsEncodeFrame(opcode, p, 0, p.Size(), m, 0, frame);
      out = ToHex(frame);
    } else if (command == "ws-head") {
      std::string hex;
      long max;
      in >> hex >> max;
      SpWsFrameHead h;
      ByteBuffer b = FromHex(hex);
      if (!SpWsParseHead(b, max, h)) out = "incomplete";
      else
        out = std::to_string(h.fin ? 1 : 0) + " " + std::to_string(h.opcode) + " " + std::to_string(h.headerBytes) + " " + std::to_string(h.payloadBytes) + " " +
              std::to_string(h.failCode);
    } else if (command == "fields") {
      out = SpProtoFieldTable().Std() + "end";
    } else if (command == "url") {
      std::string url, path;
      in >> url >> path;
      SpUrl u;
      string problem = u.Parse(string(url), string(path));
      out = problem != "" ? problem.Std() : std::string(u.tls ? "tls " : "plain ") + u.host.Std() + " " + std::to_string(u.port) + " " + u.path.Std();
    } else if (command == "pip") {
      std::string symbol;
      in >> symbol;
      out = BitsOf(SpPipSize(string(symbol)));
    } else if (command == "plan") {
      // settings..., master: symbol type volBits priceBits slBits tpBits magic, spec (or "none"), bid ask (or none), equity, generatedAt now hasGenerated
      SpCopySettings s;
      ReadSettings(in, s);
      SpMasterPositionInput m;
      std::string symbol, v, p, sl, tp, specMark, bid, ask, equity;
      in >> symbol >> m.orderType >> v >> p >> sl >> tp >> m.magic;
      m.symbol = string(symbol);
      m.volume = Bits(v);
      m.price = Bits(p);
      m.stopLoss = Bits(sl);
      m.takeProfit = Bits(tp);
      SpSymbolSpec spec;
      in >> specMark;
      bool hasSpec = specMark == "spec";
      if (hasSpec) ReadSpec(in, spec);
      in >> bid >> ask >> equity;
      long generatedAt, now;
      int hasGenerated;
      in >> generatedAt >> now >> hasGenerated;
      SpOpenPlan plan;
      SpPlanOpen(s, m, hasSpec, spec, bid != "none", bid != "none" ? Bits(bid) : 0, ask != "none" ? Bits(ask) : 0, Bits(equity), hasGenerated != 0,
                 generatedAt, now, plan);
      if (plan.open)
        out = "open " + plan.symbol.Std() + " " + std::to_string(plan.orderType) + " " + BitsOf(plan.volume) + " " + BitsOf(plan.stopLoss) + " " +
              BitsOf(plan.takeProfit);
      else
        out = "skip " + plan.reason.Std();
    } else if (command == "target") {
      SpCopySettings s;
      ReadSettings(in, s);
      std::string lov, mov, mv;
      in >> lov >> mov >> mv;
      SpSymbolSpec spec;
      ReadSpec(in, spec);
      out = BitsOf(SpTargetVolume(Bits(lov), Bits(mov), Bits(mv), s, spec));
    } else if (command == "round") {
      std::string v, step, mode;
      in >> v >> step >> mode;
      out = BitsOf(SpRoundToStep(Bits(v), Bits(step), mode == "down"));
    } else if (command == "ack-limits") {
      out = std::to_string(SP_RECEIVER_ACK_INTERVAL_MS) + " " + std::to_string(SP_RECEIVER_ACK_BURST) + " " + std::to_string(SP_RECEIVER_ACK_EVERY);
    } else if (command == "acks") {
      // acks START EVENT...: one SpReceiverAcks from START (ms); events KIND[SEQ]@MS, in order:
      //   xSEQ executed, sSEQ snapshot applied, t timer, d deinit, g connection gone (forget).
      // Answers the acks sent, SEQ@MS each, in order (the EA sends when Executed or Due says so, and at deinit).
      long start;
      in >> start;
      SpReceiverAcks acks;
      acks.Start(start);
      std::string event;
      std::ostringstream o;
      while (in >> event) {
        size_t at = event.find('@');
        char kind = event[0];
        ulong sequence = at > 1 ? std::strtoull(event.substr(1, at - 1).c_str(), nullptr, 10) : 0;
        long ms = std::atol(event.substr(at + 1).c_str());
        bool send = false;
        if (kind == 'x' || kind == 's') send = acks.Executed(sequence, kind == 's', ms);
        else if (kind == 't') send = acks.Due(ms);
        else if (kind == 'd') send = acks.Holding();
        else if (kind == 'g') acks.Forget();
        if (send) {
          o << (o.tellp() > 0 ? " " : "") << acks.Pending() << "@" << ms;
          acks.Done(true);
        }
      }
      out = o.str() + (o.tellp() > 0 ? " " : "") + "sent=" + std::to_string(acks.Sent());
    } else {
      out = "unknown command";
    }
    std::cout << out << "\n" << std::flush;
  }
  return 0;
}
