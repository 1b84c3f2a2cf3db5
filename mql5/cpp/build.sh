#!/bin/sh
# Compiles the C++ build of the EAs (the tests' terminal) into OUT:
#   OUT/sigplane-ea-selftest   the shared code's pure parts, one command per line
#   OUT/sigplane-master-ea     SigplaneMaster.mq5 in the simulated terminal loop
#   OUT/sigplane-receiver-ea   SigplaneReceiver.mq5 in the simulated terminal loop
# The experts are the .mq5 files themselves, with their #property lines
# removed (the preprocessor directive is MQL5's only); cpp/prelude.hpp gives
# C++ the MQL5 built-ins they use. Needs g++, OpenSSL and sqlite3 headers
# (scripts/ci-system-packages.sh installs them).
# Usage: build.sh OUT [target...]   (targets: selftest master receiver; default all)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=$1
shift
[ $# -gt 0 ] || set -- selftest master receiver
mkdir -p "$out"
cxx=${CXX:-g++}
flags="-std=c++17 -O1 -g0 -Wall -Wextra -Wno-unused-parameter -Werror=return-type -Werror=uninitialized -include $here/prelude.hpp -I$here/include -I$root/Include"
libs="-lssl -lcrypto -lsqlite3"

expert() {
  name=$1
  file=$2
  mkdir -p "$out/$name"
  sed -e 's/^#property.*$//' "$root/Experts/$file" > "$out/$name/expert.inc"
}

pids=""
for target in "$@"; do
  case $target in
    selftest) $cxx $flags -o "$out/sigplane-ea-selftest" "$here/selftest.cpp" $libs & pids="$pids $!" ;;
    master)
      expert master SigplaneMaster.mq5
      $cxx $flags -DSP_EXPERT_MASTER -I"$out/master" -o "$out/sigplane-master-ea" "$here/terminal-loop.cpp" $libs & pids="$pids $!" ;;
    receiver)
      expert receiver SigplaneReceiver.mq5
      $cxx $flags -DSP_EXPERT_RECEIVER -I"$out/receiver" -o "$out/sigplane-receiver-ea" "$here/terminal-loop.cpp" $libs & pids="$pids $!" ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
  esac
done
status=0
for pid in $pids; do wait "$pid" || status=1; done
exit $status
