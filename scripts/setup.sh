#!/usr/bin/env bash
# Installs everything Orquestra's build and tests need: Debian packages and npm packages.
# Idempotent, and fast when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libyaml-cpp-dev libpugixml-dev libspdlog-dev libfmt-dev libcli11-dev libsodium-dev
  libpqxx-dev libsqlite3-dev sqlite3 zlib1g-dev libre2-dev
  postgresql
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl procps
  clang
  chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages for the interoperability tests (a real Eureka client).
if [ ! -d tests/interop/node_modules/eureka-js-client ]; then
  echo "setup: installing npm packages for tests/interop"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# npm packages for the web console (src/web/ui): Preact, dagre, esbuild, TypeScript, playwright-core.
if [ ! -d src/web/ui/node_modules/preact ]; then
  echo "setup: installing npm packages for src/web/ui"
  (cd src/web/ui && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: ok"
