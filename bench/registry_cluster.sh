#!/usr/bin/env bash
# Registry cluster benchmark (not a test): three `orquestra registry` nodes on loopback, each
# replicating to the other two. Prints the time for 10,000 registrations at A to reach C,
# renewals/s sent to one node and to all three (wrk, 64 connections in all), what replication
# did meanwhile (batches, items dropped, queue left), and the replication lag from a
# registration at A to the instance being served by C (p50/p99), idle and under renewal load.
# Ends with the same renewals against one node without peers, for comparison.
# Usage: bench/registry_cluster.sh [build/orquestra]   (ports BASE_PORT..BASE_PORT+3, 18761)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/orquestra}
LAG=${LAG:-build/bench/replication_lag}
DUR=${DUR:-10s}
BASE=${BASE_PORT:-18761}
export INSTANCES=10000
ports=("$BASE" "$((BASE + 1))" "$((BASE + 2))")
peers="http://127.0.0.1:${ports[0]}/eureka,http://127.0.0.1:${ports[1]}/eureka,http://127.0.0.1:${ports[2]}/eureka"
pids=()
logs=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "${logs[@]}"; }
trap cleanup EXIT
for port in "${ports[@]}"; do
  log=$(mktemp)
  "$BIN" registry --host 127.0.0.1 --port "$port" --peers "$peers" --no-self-preservation \
    --threads "${THREADS:-1}" >"$log" 2>&1 &
  pids+=($!)
  logs+=("$log")
done
for port in "${ports[@]}"; do
  for _ in $(seq 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/eureka/apps/")" = 200 ] && break
    sleep 0.05
  done
done
A="http://127.0.0.1:${ports[0]}"; B="http://127.0.0.1:${ports[1]}"; C="http://127.0.0.1:${ports[2]}"
rate() { grep 'Requests/sec' | awk '{print $2}'; }
metric() {  # metric URL NAME-AND-LABELS-PREFIX: sum of the matching samples
  curl -s "$1/metrics" | awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {printf "%d", s}'
}
count() { metric "$1" 'orquestra_registry_instances{status="UP"}'; }
echo "nodes A $A, B $B, C $C (pids ${pids[*]})"

t0=$(date +%s%N)
wrk -t2 -c64 -d60s -s bench/registry/register.lua "$A" >/dev/null &
wrk_pid=$!
while [ "$(count "$A")" -lt "$INSTANCES" ]; do sleep 0.05; done
kill $wrk_pid 2>/dev/null || true; wait $wrk_pid 2>/dev/null || true
t1=$(date +%s%N)
while [ "$(count "$C")" -lt "$INSTANCES" ]; do sleep 0.05; done
t2=$(date +%s%N)
echo "10,000 registrations at A: $(( (t1 - t0) / 1000000 )) ms; all at C $(( (t2 - t1) / 1000000 )) ms later"

b0=$(metric "$B" orquestra_registry_renewals_total)
out=$(wrk -t2 -c64 -d"$DUR" -s bench/registry/renew.lua "$A")
echo "renewals/s at A (replicated to B and C): $(echo "$out" | rate)"
nreq=$(echo "$out" | grep 'requests in' | awk '{print $1}')
sleep 1
b1=$(metric "$B" orquestra_registry_renewals_total)
echo "  renewals A received: $nreq; B applied from A: $((b1 - b0))"
echo "  A's replication: batches $(metric "$A" orquestra_registry_replication_batches_total)," \
     "items coalesced $(metric "$A" 'orquestra_registry_replication_items_total{peer="http://127.0.0.1:'"${ports[1]}"'/eureka",outcome="coalesced"}')" \
     "and dropped $(metric "$A" 'orquestra_registry_replication_items_total{peer="http://127.0.0.1:'"${ports[1]}"'/eureka",outcome="dropped"}') for B," \
     "queued now $(metric "$A" orquestra_registry_replication_queue_length)"

outs=$(for u in "$A" "$B" "$C"; do wrk -t1 -c21 -d"$DUR" -s bench/registry/renew.lua "$u" & done; wait)
total=$(echo "$outs" | rate | awk '{s += $1} END {printf "%.0f", s}')
echo "renewals/s at A, B and C together: $total"

"$LAG" "${ports[0]}" "${ports[2]}" "${LAG_N:-500}" | sed 's/^/idle: /'
wrk -t1 -c32 -d60s -s bench/registry/renew.lua "$B" >/dev/null &
wrk_pid=$!
sleep 1
"$LAG" "${ports[0]}" "${ports[2]}" "${LAG_N:-500}" | sed 's/^/renewals at B meanwhile: /'
kill $wrk_pid 2>/dev/null || true; wait $wrk_pid 2>/dev/null || true
for i in 0 1 2; do
  echo "RSS node $i: $(awk '/VmRSS/{printf "%.1f MB", $2/1024}' /proc/${pids[$i]}/status)"
done

# The same renewals against one node without peers, for comparison (the cluster stopped first).
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait "${pids[@]}" 2>/dev/null || true
log=$(mktemp); logs+=("$log")
"$BIN" registry --host 127.0.0.1 --port "$((BASE + 3))" --no-self-preservation \
  --threads "${THREADS:-1}" >"$log" 2>&1 &
pids+=($!)
S="http://127.0.0.1:$((BASE + 3))"
for _ in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$S/eureka/apps/")" = 200 ] && break
  sleep 0.05
done
wrk -t2 -c64 -d60s -s bench/registry/register.lua "$S" >/dev/null &
wrk_pid=$!
while [ "$(count "$S")" -lt "$INSTANCES" ]; do sleep 0.05; done
kill $wrk_pid 2>/dev/null || true; wait $wrk_pid 2>/dev/null || true
echo "renewals/s at one node without peers: $(wrk -t2 -c64 -d"$DUR" -s bench/registry/renew.lua "$S" | rate)"
