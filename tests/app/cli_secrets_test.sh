#!/usr/bin/env bash
# `orquestra variables` and `connections` on an SQLite home: set, get (a missing key exits 1 with
# a clear message), list, import (a bad file is named with its line), export (mode 600),
# delete; connections from a URI and from fields, shown with the password as ***; a secret is
# sealed in the database and secret.key is made 0600; a bad ORQUESTRA_SECRET_KEY is refused.
# Usage: cli_secrets_test.sh ORQUESTRA
set -euo pipefail
orquestra=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export ORQUESTRA_HOME="$home"
unset ORQUESTRA_SECRET_KEY ORQUESTRA_DB

fail() { echo "FAIL: $*" >&2; exit 1; }
has() { case "$1" in *"$2"*) ;; *) fail "expected '$2' in: $1" ;; esac; }
hasnt() { case "$1" in *"$2"*) fail "did not expect '$2' in: $1" ;; esac; }

"$orquestra" variables set region eu-west --description "where we deploy" >/dev/null
"$orquestra" variables set api_token 'tok-CLI-123456' >/dev/null
"$orquestra" variables set settings '{"limit": 7}' --json >/dev/null
[ "$("$orquestra" variables get region)" = "eu-west" ] || fail "get region"
[ "$("$orquestra" variables get api_token)" = "tok-CLI-123456" ] || fail "get of a secret asked by name"
[ "$("$orquestra" variables get settings --json)" = '{"limit":7}' ] || fail "get --json"
out=$("$orquestra" variables list)
has "$out" "region"
has "$out" "where we deploy"
hasnt "$out" "tok-CLI-123456"
[ "$(stat -c %a "$home/secret.key")" = "600" ] || fail "secret.key is not 0600"
# Sealed at rest: the token is nowhere in the database file.
if grep -q "tok-CLI-123456" "$home/orquestra.db"* 2>/dev/null; then fail "the secret is in the database in clear"; fi

set +e
out=$("$orquestra" variables get nothing_here 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "a missing key exits $rc, not 1"
has "$out" "Variable nothing_here does not exist"

# The environment overrides the store.
[ "$(ORQUESTRA_VAR_REGION=from-env "$orquestra" variables get region)" = "from-env" ] || fail "ORQUESTRA_VAR_"

printf '{\n  "a": "1",\n  "b": [1, 2\n' > "$home/bad.json"
set +e
out=$("$orquestra" variables import "$home/bad.json" 2>&1); rc=$?
set -e
[ $rc -eq 1 ] || fail "a bad import file exits $rc"
has "$out" "$home/bad.json:"
has "$out" "not valid JSON"
printf '{"x": "1", "y": {"n": 2}}\n' > "$home/good.json"
has "$("$orquestra" variables import "$home/good.json")" "2 of 2 variables successfully updated"
[ "$("$orquestra" variables get y)" = '{"n":2}' ] || fail "a JSON value is stored as its text"
"$orquestra" variables export "$home/out.json" >/dev/null
[ "$(stat -c %a "$home/out.json")" = "600" ] || fail "the export is not 0600"
has "$(cat "$home/out.json")" '"api_token":"tok-CLI-123456"'
"$orquestra" variables delete x >/dev/null
set +e
"$orquestra" variables delete x >/dev/null 2>&1 && fail "deleting a missing key succeeded"
set -e

out=$("$orquestra" connections add my_api --conn-uri 'http://ana:pw-CLI-98765@api.test:8080/v1?timeout=5')
has "$out" "Successfully added"
hasnt "$out" "pw-CLI-98765"
out=$("$orquestra" connections add db --conn-type postgres --conn-host db.test --conn-port 5432 \
      --conn-login app --conn-password 'db-CLI-44444' --conn-extra '{"sslmode": "require"}')
hasnt "$out" "db-CLI-44444"
out=$("$orquestra" connections get my_api)
has "$out" "password:    ***"
has "$out" "host:        api.test"
has "$out" '{"timeout":"5"}'
hasnt "$out" "pw-CLI-98765"
out=$("$orquestra" connections list)
has "$out" "my_api"
has "$out" "db.test"
set +e
out=$("$orquestra" connections add my_api --conn-uri 'http://h/' 2>&1) && fail "a second add succeeded"
has "$out" "already exists"
out=$("$orquestra" connections add bad --conn-uri 'http://h:99999/' 2>&1) && fail "a bad port was taken"
has "$out" "port"
out=$("$orquestra" connections add bad2 --conn-uri 'nonsense' 2>&1) && fail "a bad URI was taken"
has "$out" "--conn-uri"
out=$(ORQUESTRA_SECRET_KEY=short "$orquestra" variables get api_token 2>&1) && fail "a bad key was taken"
has "$out" "ORQUESTRA_SECRET_KEY is not a secret key"
chmod 644 "$home/secret.key"
out=$("$orquestra" variables get api_token 2>&1) && fail "a readable secret.key was used"
has "$out" "may be read by group or others"
chmod 600 "$home/secret.key"
set -e
"$orquestra" connections delete my_api >/dev/null
hasnt "$("$orquestra" connections list)" "my_api"
echo "PASS"
