#!/usr/bin/env bash
# `orquestra pools` on an SQLite home: default_pool is there with 128 slots; set creates and
# resizes a pool; get, list, export and import round-trip; a pool of 0 slots, a bad name, a bad
# import file and deleting default_pool are refused with a clear message and exit 1; changes
# are in the audit log.
# Usage: cli_pools_test.sh ORQUESTRA
set -euo pipefail
orquestra=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export ORQUESTRA_HOME="$home"
unset ORQUESTRA_DB ORQUESTRA_DEFAULT_POOL_SLOTS

fail() { echo "FAIL: $*" >&2; exit 1; }
has() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }
hasnt() { case "$1" in *"$2"*) fail "did not expect '$2' in: $1" ;; esac; }
refused() {  # refused "words" command...: exit 1 with the words on stderr, nothing on stdout
    local words=$1; shift
    local out rc
    set +e
    out=$("$orquestra" "$@" 2>&1 >/dev/null); rc=$?
    set -e
    [ $rc -eq 1 ] || fail "'$*' exits $rc, not 1"
    has "$out" "$words"
}

out=$("$orquestra" pools list)
has "$out" "default_pool"
has "$out" "128"

has "$("$orquestra" pools set etl 4 "nightly loads")" "Pool etl created (4 slots)"
out=$("$orquestra" pools get etl)
has "$out" "etl"
has "$out" "nightly loads"
"$orquestra" pools set etl 6 >/dev/null  # resized; the description stays
out=$("$orquestra" pools get etl)
has "$out" " 6 "
has "$out" "nightly loads"

refused "pool slots must be an integer from 1 to 1000000, not '0'" pools set zero 0
refused "not '-3'" pools set neg -- -3
refused "not 'ten'" pools set ten ten
refused "not '1000001'" pools set huge 1000001
refused "pool name" pools set "bad name" 2
refused "pool 'default_pool' cannot be deleted" pools delete default_pool
refused "Pool nothing does not exist" pools get nothing
refused "Pool nothing does not exist" pools delete nothing
hasnt "$("$orquestra" pools list)" "zero"

"$orquestra" pools export "$home/pools.json" >/dev/null
has "$(cat "$home/pools.json")" '"etl":{"slots":6,"description":"nightly loads","include_deferred":false}'
"$orquestra" pools delete etl >/dev/null
hasnt "$("$orquestra" pools list)" "etl"
has "$("$orquestra" pools import "$home/pools.json")" "Uploaded 2 pool(s)"
has "$("$orquestra" pools get etl)" "nightly loads"

printf '{"ok": {"slots": 2}, "bad": {"slots": 0}}\n' > "$home/bad.json"
refused "$home/bad.json: pool 'bad': pool slots must be an integer from 1 to 1000000, not 0" \
    pools import "$home/bad.json"
refused "Pool ok does not exist" pools get ok  # nothing of a bad file is written
printf '{"x": {"slots": 2, "colour": "red"}}\n' > "$home/unknown.json"
refused "unknown field 'colour'" pools import "$home/unknown.json"
printf '{"x": \n' > "$home/broken.json"
refused "$home/broken.json: not valid JSON" pools import "$home/broken.json"

# The scheduler's option sets default_pool's size (checked when the command line is read).
set +e
out=$("$orquestra" scheduler --default-pool-slots 0 2>&1); rc=$?
set -e
[ $rc -ne 0 ] || fail "--default-pool-slots 0 was accepted"
has "$out" "default-pool-slots"

echo "cli_pools: ok"
