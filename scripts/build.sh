#!/usr/bin/env bash
# Installs dependencies, then configures and builds Orquestra into build/ (binary: build/orquestra).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# -g1: line tables and function names (backtraces, profilers) at about 60% of the compile
# time of full debug information; configure build/ yourself with -g for a debugger session.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
cmake --build build
