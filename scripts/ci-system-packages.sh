#!/bin/sh
# System packages the test suite needs besides Node, Postgres and Redis:
#   promtool  (Debian package prometheus)  test/metrics-promtool.test.ts checks a live /metrics scrape
#   chromium  (Debian package chromium)    test/status-page.test.ts drives the status page headless
#   openssl                                test/tls.test.ts makes its certificate
#   g++, libssl-dev, libsqlite3-dev        test/metatrader compiles the C++ build of the MetaTrader EAs
#                                          (mql5/cpp/build.sh: the EAs over OpenSSL and sqlite3)
#   clang                                  test/metatrader/mql5-syntax.test.ts checks the MQL5-only layer
# Idempotent: apt-get runs only when a binary is missing. The prometheus
# package's server is not started here (no init system in CI); if one is
# found running it is stopped, since no test needs it.
set -eu

missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v clang++ >/dev/null 2>&1 || missing="$missing clang"
[ -f /usr/include/openssl/ssl.h ] || missing="$missing libssl-dev"
[ -f /usr/include/sqlite3.h ] || missing="$missing libsqlite3-dev"

if [ -n "$missing" ]; then
  echo "ci-system-packages: installing$missing"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
  # Installing prometheus may start its server (on systems with an init): we only want promtool.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus prometheus-node-exporter 2>/dev/null || true
    $SUDO systemctl disable prometheus prometheus-node-exporter 2>/dev/null || true
  fi
else
  echo "ci-system-packages: promtool, chromium, openssl, g++, clang and the OpenSSL and sqlite3 headers present"
fi

promtool --version 2>&1 | head -1
chromium --version
g++ --version | head -1
clang++ --version | head -1
