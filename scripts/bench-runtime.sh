#!/usr/bin/env bash
# One benchmark run of the durable runtime, the way the peer benchmarks run theirs: a fresh
# `flightplan dev` (fresh data folder, 127.0.0.1, a free port) is started, loaded by
# `flightplan bench`, and stopped by its PID. CPU is sampled over the bench command's whole run
# (warm-up included): the machine's busy share, and each process's CPU (100 % = one core);
# "other" is what the rest of the machine used meanwhile (busy share x cores - ours).
#
#   scripts/bench-runtime.sh [DEV FLAGS...] -- [BENCH FLAGS...]
#   scripts/bench-runtime.sh --fsync always -- --workflow bench-5step --workflows 2000 --concurrency 50
#
# Prints the bench's JSON with a "load" object and a "memory" object added (Redis used_memory before
# and after, per workflow run, warm-up included: finished workflows are kept; the dev process's RSS). Exit status: the bench's (0 all completed).
# FLIGHTPLAN_BUILD_DIR picks the build (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
flightplan=${FLIGHTPLAN_BUILD_DIR:-build}/api/flightplan
dev_flags=()
while (($#)); do
  if [[ $1 == -- ]]; then shift; break; fi
  dev_flags+=("$1"); shift
done

work=$(mktemp -d /tmp/flightplan-bench.XXXXXX)
"$flightplan" dev --address 127.0.0.1 --port 0 --data-dir "$work/data" --workflows workflows "${dev_flags[@]}" \
  >"$work/dev.out" 2>"$work/dev.log" &
dev_pid=$!
stop_dev() {
  kill -TERM "$dev_pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$dev_pid" 2>/dev/null || true
  wait "$dev_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop_dev EXIT

url=""
for _ in $(seq 1 600); do  # at most 60 s: the definitions' jq programs compile first
  url=$(grep -m1 '"msg":"listening"' "$work/dev.log" | jq -r '.url // empty' || true)
  [[ -n $url ]] && break
  kill -0 "$dev_pid" 2>/dev/null || { echo "flightplan dev exited:" >&2; cat "$work/dev.log" >&2; exit 2; }
  sleep 0.1
done
[[ -n $url ]] || { echo "flightplan dev did not start listening within 60 s" >&2; exit 2; }
redis_pid=$(grep -m1 '"private redis-server started"' "$work/dev.log" | jq -r '.pid // empty' || true)
redis_dir=$(grep -m1 '"private redis-server started"' "$work/dev.log" | jq -r '.dir // empty' || true)
# Redis's used_memory (0 without a private redis-server, e.g. --store memory).
used_memory() {
  [[ -n $redis_dir && -S $redis_dir/redis.sock ]] || { echo 0; return; }
  redis-cli -s "$redis_dir/redis.sock" INFO memory | tr -d '\r' | awk -F: '$1 == "used_memory" {print $2}'
}
memory0=$(used_memory)

# CPU ticks (utime + stime) of one process, counting its threads; 0 when it is gone.
ticks() { [[ -n ${1:-} && -r /proc/$1/stat ]] && sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}' || echo 0; }
machine() { head -1 /proc/stat | awk '{idle = $5 + $6; total = 0; for (i = 2; i <= NF; ++i) total += $i; print idle, total}'; }

loadavg=$(cut -d' ' -f1 /proc/loadavg)
read -r idle0 total0 < <(machine)
dev0=$(ticks "$dev_pid"); redis0=$(ticks "$redis_pid")
start_ns=$(date +%s%N)
rc=0
/usr/bin/time -f '%U %S' -o "$work/client.time" "$flightplan" bench --url "$url" "$@" >"$work/bench.json" || rc=$?
end_ns=$(date +%s%N)
read -r idle1 total1 < <(machine)
dev1=$(ticks "$dev_pid"); redis1=$(ticks "$redis_pid")
memory1=$(used_memory)
rss_kb=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$dev_pid/status" 2>/dev/null || echo 0)

hz=$(getconf CLK_TCK)
wall=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN {print (b - a) / 1e9}')
pct() { awk -v t="$1" -v hz="$hz" -v w="$wall" 'BEGIN {printf "%.1f", 100 * t / hz / w}'; }
client_pct=$(awk -v w="$wall" '{printf "%.1f", 100 * ($1 + $2) / w}' "$work/client.time")
busy=$(awk -v i0="$idle0" -v t0="$total0" -v i1="$idle1" -v t1="$total1" \
  'BEGIN {printf "%.1f", 100 * (1 - (i1 - i0) / (t1 - t0))}')
jq -c --arg busy "$busy" --arg dev "$(pct $((dev1 - dev0)))" --arg redis "$(pct $((redis1 - redis0)))" \
  --arg client "$client_pct" --arg wall "$wall" --arg loadavg "$loadavg" --arg cores "$(nproc)" \
  --arg dev_flags "${dev_flags[*]}" --arg memory0 "$memory0" --arg memory1 "$memory1" --arg rss_kb "$rss_kb" \
  '. + {dev_flags: $dev_flags, load: {wall_s: ($wall | tonumber), cores: ($cores | tonumber),
        machine_busy_percent: ($busy | tonumber), flightplan_dev_cpu_percent: ($dev | tonumber),
        redis_server_cpu_percent: ($redis | tonumber), bench_client_cpu_percent: ($client | tonumber),
        other_cpu_percent: ((($busy | tonumber) * ($cores | tonumber) - ($dev | tonumber) - ($redis | tonumber)
                             - ($client | tonumber)) * 10 | round / 10),
        loadavg1_before: ($loadavg | tonumber)},
        memory: {redis_used_before_bytes: ($memory0 | tonumber), redis_used_after_bytes: ($memory1 | tonumber),
                 redis_bytes_per_workflow: ((($memory1 | tonumber) - ($memory0 | tonumber))
                                            / (.workflows + .warmup.workflows) | round),
                 flightplan_dev_rss_kb: ($rss_kb | tonumber)}}' "$work/bench.json"
exit "$rc"
