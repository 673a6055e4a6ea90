#!/usr/bin/env bash
# The C++ library as an installed package: `cmake --install` into a temporary prefix; the public
# headers include nothing but the standard library; the example in examples/library/ built as a
# consumer project once with find_package(Orquestra) and once with pkg-config; then both run the
# seed lesson's DAG, defined in code, in memory against a real registry and the example
# services on loopback: user 1 (admin: the message is sent), 3 (not admin: skipped, the run
# still succeeds), 99 (unknown: the run fails, exit 1).
# Usage: install_test.sh BUILD_DIR EXAMPLE_DIR ORQUESTRA SERVICO_USUARIOS SERVICO_MENSAGENS
set -euo pipefail
SECONDS=0
step() { echo "[$SECONDS s] $*"; }
build=$1 example=$2 orquestra=$3 usuarios=$4 mensagens=$5
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }
# Polls `$@` every 50 ms until it succeeds, at most 20 s.
eventually() {
    for _ in $(seq 400); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    return 1
}

prefix=$work/prefix
step install
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/orquestra/orquestra.hpp include/orquestra/dag.hpp \
         include/orquestra/orchestrator.hpp include/orquestra/service_registration.hpp \
         lib/liborquestra.a lib/cmake/Orquestra/OrquestraConfig.cmake \
         lib/cmake/Orquestra/OrquestraConfigVersion.cmake lib/cmake/Orquestra/OrquestraTargets.cmake \
         lib/pkgconfig/orquestra.pc; do
    [ -f "$prefix/$f" ] || fail "$f is not installed"
done
# Only standard headers and the library's own.
if grep -h '#include' "$prefix"/include/orquestra/*.hpp | grep -v -E '#include <[a-z_]+>|#include "orquestra/[a-z_]+\.hpp"'; then
    fail "a public header includes something beyond the standard library"
fi
[ -z "$(ls "$prefix/include" | grep -v '^orquestra$')" ] || fail "headers besides include/orquestra/"

# A consumer project with find_package(Orquestra).
step find_package build
cmake -S "$example" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "configure"; }
cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "build with find_package"; }
[ -x "$work/cmake/usuarios_mensagens" ] || fail "no program from the find_package build"

# The same program with pkg-config.
step pkg-config build
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
[ "$(pkg-config --modversion orquestra)" = "0.1.0" ] || fail "pkg-config version"
pkg-config --static --libs orquestra >/dev/null || fail "pkg-config --static"
case "$(pkg-config --cflags orquestra)" in *boost*) fail "Boost in the Cflags" ;; esac
# Every header a consumer's compiler opens for <orquestra/orquestra.hpp>: none of Boost.
# shellcheck disable=SC2046
opened=$(echo '#include <orquestra/orquestra.hpp>' |
         c++ -fsyntax-only -H -x c++ - $(pkg-config --cflags orquestra) 2>&1)
has "$opened" "orquestra/dag.hpp"
case "$opened" in *boost*|*asio*|*beast*) fail "the public headers open Boost: $opened" ;; esac
# shellcheck disable=SC2046
c++ -O0 -o "$work/pc_example" "$example/usuarios_mensagens.cpp" \
    $(pkg-config --cflags --libs orquestra) 2>"$work/pc.log" || { cat "$work/pc.log"; fail "build with pkg-config"; }

# A registry and the two example services on free ports.
step processes
"$orquestra" registry --port 0 >"$work/registry.log" 2>&1 &
pids+=($!)
eventually grep -q 'registry listening on http://127.0.0.1:' "$work/registry.log" || fail "the registry did not start"
port=$(sed -n 's|.*registry listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/registry.log" | head -1)
registry="http://127.0.0.1:$port/eureka"
"$usuarios" --port 0 --registry "$registry" >"$work/usuarios.log" 2>&1 &
pids+=($!)
"$mensagens" --port 0 --registry "$registry" >"$work/mensagens.log" 2>&1 &
pids+=($!)
eventually curl -sf "$registry/apps/SERVICO_USUARIOS" || fail "servico_usuarios did not register"
eventually curl -sf "$registry/apps/SERVICO_MENSAGENS" || fail "servico_mensagens did not register"
usuarios_port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/usuarios.log" | head -1)

# User 1 is in admin: both tasks succeed. This run also registers the program itself.
out=$("$work/cmake/usuarios_mensagens" --registry "$registry" --usuario-id 1 \
      --register-port "$usuarios_port") || fail "user 1 (exit $?): $out"
has "$out" "registered as 127.0.0.1:"
has "$out" ":$usuarios_port"
has "$out" 'obter_usuario: success {"id":1'
has "$out" 'enviar_mensagem: success'
has "$out" ': success'
eventually grep -q "Mensagem enviada para o grupo 'admin'" "$work/mensagens.log" || fail "no message sent"
# Its registration was cancelled when it ended.
[ "$(curl -s -o /dev/null -w '%{http_code}' "$registry/apps/ORQUESTRA_LIBRARY_EXAMPLE")" = 404 ] \
    || fail "the example's instance is still registered"

# User 3 is not: the message is skipped and the run succeeds (the pkg-config build).
out=$("$work/pc_example" --registry "$registry" --usuario-id 3) || fail "user 3 (exit $?): $out"
has "$out" 'enviar_mensagem: skipped'
has "$out" ': success'

# User 99 does not exist: obter_usuario fails (404) and so does the run.
set +e
out=$("$work/pc_example" --registry "$registry" --usuario-id 99); rc=$?
set -e
[ $rc -eq 1 ] || fail "user 99 exits $rc, not 1: $out"
has "$out" 'obter_usuario: failed'
has "$out" '404'
has "$out" ': failed'
step "library install test: ok"
