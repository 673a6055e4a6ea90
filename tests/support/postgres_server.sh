#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests.
#
#   postgres_server.sh start DIR   initdb + postgres in DIR/data, on a free port of 127.0.0.1
#                                  and a unix socket in DIR, fsync off (tests only); creates the
#                                  database orquestra_test and writes its URL to DIR/url
#   postgres_server.sh stop DIR    stops that server and removes DIR
#
# PostgreSQL refuses to run as root: when run as root, the server runs as `nobody` (DIR is
# given to it); otherwise as the current user. The role has a random password, required on TCP;
# the socket in DIR (mode 0700) trusts its owner. The binaries come from $PG_BINDIR, else the
# newest /usr/lib/postgresql/*/bin (Debian's `postgresql` package).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$2
[ "$action" = stop ] && [ ! -d "$dir" ] && exit 0

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres_server: no PostgreSQL server binaries (install Debian's postgresql, or set PG_BINDIR)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)" --clear-groups -- "$@"
  else
    "$@"
  fi
}

stop_server() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

case "$action" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_server  # a server left behind by an interrupted run
    rm -rf "${dir:?}"/*
    chmod 0700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown nobody:"$(id -gn nobody)" "$dir"
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)
    as_owner sh -c 'umask 077; printf "%s\n" "$1" > "$2"' sh "$password" "$dir/pwfile"
    as_owner "$bindir/initdb" -D "$dir/data" -U orquestra --pwfile="$dir/pwfile" -E UTF8 \
      --locale=C --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$dir/initdb.log" 2>&1 || {
      echo "postgres_server: initdb failed:" >&2; cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    # A free port: try random ones until the server binds one.
    started=""
    for _ in $(seq 1 20); do
      port=$((20000 + RANDOM % 40000))
      if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
           -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
           start >/dev/null 2>&1; then
        started=yes
        break
      fi
    done
    if [ -z "$started" ]; then
      echo "postgres_server: the server did not start; its log:" >&2
      tail -n 30 "$dir/server.log" >&2 || true
      exit 1
    fi
    as_owner "$bindir/createdb" -h "$dir" -p "$port" -U orquestra orquestra_test
    url="postgresql://orquestra:$password@127.0.0.1:$port/orquestra_test"
    as_owner sh -c 'umask 077; printf "%s\n" "$1" > "$2"' sh "$url" "$dir/url"
    echo "postgres_server: PostgreSQL on 127.0.0.1:$port and $dir (URL in $dir/url)"
    ;;
  stop)
    stop_server
    rm -rf "$dir"
    ;;
  *) usage ;;
esac
