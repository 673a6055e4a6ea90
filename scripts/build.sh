#!/usr/bin/env bash
# Installs dependencies, then configures and builds Orquestra into build/ (binary: build/orquestra).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
