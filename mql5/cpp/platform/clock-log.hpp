// Clock and log of the C++ platform layer. Logs are JSON lines on stdout
// (the tests read them): {"log":"info","code":"...","msg":"..."}. Nothing
// the shared code logs carries a token or a key.
#ifndef SIGPLANE_CPP_CLOCK_LOG_HPP
#define SIGPLANE_CPP_CLOCK_LOG_HPP

#include <time.h>
#include <cstdio>
#include <string>

inline long PlatformNowMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

inline long PlatformMonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/** JSON string literal of `text` (quotes included). */
inline std::string JsonQuote(const std::string &text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += (char)c;
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += (char)c;
    }
  }
  return out + "\"";
}

/** Lowest level printed (SIGPLANE_EA_LOG_LEVEL: 0 debug .. 3 error; default 0: the tests read debug lines). */
inline int &PlatformLogLevelMin() {
  static int level = 0;
  return level;
}

/** One JSON line on stdout, flushed (a process killed right after still left it). */
inline void EmitJsonLine(const std::string &line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

inline void PlatformLog(int level, const string &code, const string &message) {
  if (level < PlatformLogLevelMin()) return;
  static const char *names[] = {"debug", "info", "warn", "error"};
  const char *name = level >= 0 && level <= 3 ? names[level] : "info";
  EmitJsonLine(std::string("{\"log\":\"") + name + "\",\"code\":" + JsonQuote(code.Std()) + ",\"msg\":" + JsonQuote(message.Std()) + "}");
}

#endif
