#!/usr/bin/env bash
# Registry load benchmark (not a test): wrk on loopback, 64 connections, 10,000 instances of
# ~1 KB in 100 apps. Prints registrations/s, renewals/s, one-app lookups/s, full-fetch latency
# (JSON and XML), server CPU time per renewal and RSS.
# Usage: bench/registry_load.sh [build/orquestra]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/orquestra}
DUR=${DUR:-10s}
export INSTANCES=10000
log=$(mktemp)
"$BIN" registry --host 127.0.0.1 --port 0 --no-self-preservation >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do
  port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  [ -n "$port" ] && break
  sleep 0.05
done
url="http://127.0.0.1:$port"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
rate() { grep 'Requests/sec' | awk '{print $2}'; }
tck=$(getconf CLK_TCK)

echo "registry pid $pid on $url"
reg=$(wrk -t2 -c64 -d"$DUR" -s bench/registry/register.lua "$url" | rate)
count=$(curl -s -H 'Accept: application/json' "$url/eureka/v2/apps" | grep -o '"instanceId"' | wc -l)
echo "registrations/s:        $reg   (registry now holds $count instances)"

c0=$(cpu_ticks)
out=$(wrk -t2 -c64 -d"$DUR" -s bench/registry/renew.lua "$url")
c1=$(cpu_ticks)
ren=$(echo "$out" | rate)
nreq=$(echo "$out" | grep 'requests in' | awk '{print $1}')
echo "renewals/s:             $ren"
echo "server CPU per renewal: $(awk -v a="$c0" -v b="$c1" -v t="$tck" -v n="$nreq" 'BEGIN{printf "%.2f", (b - a) * 1e6 / t / n}') us"
bad=$(echo "$out" | grep -c 'Non-2xx' || true)
[ "$bad" = "0" ] || echo "WARNING: renewals with non-2xx answers: $(echo "$out" | grep 'Non-2xx')"

look=$(wrk -t2 -c64 -d"$DUR" -s bench/registry/lookup.lua "$url" | rate)
echo "one-app lookups/s:      $look"

for fmt in json xml; do
  lat=$(wrk -t1 -c1 -d5s --latency -H "Accept: application/$fmt" "$url/eureka/v2/apps" \
        | awk '/50%/{p50=$2} /99%/{p99=$2} END{print "p50 " p50 ", p99 " p99}')
  size=$(curl -s -H "Accept: application/$fmt" "$url/eureka/v2/apps" | wc -c)
  echo "full fetch $fmt:        $lat  ($size bytes)"
done
# A full fetch right after a change (the document is rendered anew).
t=$( { for i in $(seq 10); do
        curl -s -o /dev/null -X PUT "$url/eureka/v2/apps/APP1/inst-1/metadata?n=$i"
        curl -s -o /dev/null -w '%{time_total}\n' -H 'Accept: application/json' "$url/eureka/v2/apps"
      done; } | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]*1000 " ms"}')
echo "full fetch json after a change (median of 10): $t"
echo "RSS:                    $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/$pid/status)"
# The registry gives freed pages back once it has been quiet for a while (5 s).
sleep 11
echo "RSS 11 s later:         $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/$pid/status)"
