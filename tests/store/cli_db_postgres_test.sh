#!/usr/bin/env bash
# `orquestra db init|migrate` and `users` on PostgreSQL, selected by --db and by $ORQUESTRA_DB:
# the schema is created once, a second run finds it current, and no output shows the password.
# Needs the tests' server (the CTest fixture `postgres`); usage: cli_db_postgres_test.sh ORQUESTRA
set -euo pipefail
orquestra=$1
url_file=${ORQUESTRA_TEST_POSTGRES_URL_FILE:?run through ctest: the fixture postgres starts the server}
url=$(head -n 1 "$url_file") || { echo "FAIL: no URL in $url_file: the test server did not start" >&2; exit 1; }
password=${url#*://*:}
password=${password%%@*}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
check() {  # output, expected substring
  printf '%s\n' "$1"
  case "$1" in *"$password"*) fail "the password was printed" ;; esac
  case "$1" in *"$2"*) ;; *) fail "expected '$2'" ;; esac
}

out=$("$orquestra" db init --home "$home" --db "$url" 2>&1)
check "$out" "init: database postgresql://orquestra:****@"
check "$out" "at schema version "
version=${out##*schema version }
out=$(ORQUESTRA_DB="$url" "$orquestra" db migrate --home "$home" 2>&1)
check "$out" "migrate: database postgresql://orquestra:****@"
check "$out" "at schema version $version"
[ ! -e "$home/orquestra.db" ] || fail "an SQLite file was made next to a PostgreSQL database"

user="cli_$$_$RANDOM"
out=$(ORQUESTRA_DB="$url" "$orquestra" users create --home "$home" -u "$user" -p 'pw-long-enough-1' \
      -r Viewer -e "$user@example.com" -f Ana -l Souza 2>&1)
check "$out" "$user"
out=$("$orquestra" users list --home "$home" --db "$url" 2>&1)
check "$out" "$user"
out=$("$orquestra" users delete --home "$home" --db "$url" -u "$user" 2>&1)
out=$("$orquestra" users list --home "$home" --db "$url" 2>&1)
case "$out" in *"$user"*) fail "the user was not deleted" ;; esac

# An unreachable server: a clear message, a non-zero exit, no password.
if out=$("$orquestra" db init --home "$home" --db "postgresql://ana:$password@127.0.0.1:1/x" 2>&1); then
  fail "db init succeeded without a server"
fi
check "$out" "cannot connect to PostgreSQL at postgresql://ana:****@127.0.0.1:1/x"
echo "ok"
