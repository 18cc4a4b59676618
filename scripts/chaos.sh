#!/usr/bin/env bash
# A longer chaos run (docs/testing.md#crash-tests): ROUNDS rounds of mixed load on a dev, a server
# and a worker sharing one private redis-server, one of them stopped (SIGTERM) or killed (-9) at a
# random moment in each round and restarted; after every round, nothing lost, nothing done twice,
# every drone back. About 20 s a round on 2 cores.
#   scripts/chaos.sh                  # 25 rounds, a fresh seed
#   scripts/chaos.sh 40               # 40 rounds
#   scripts/chaos.sh 25 1234          # re-run seed 1234 (the same workload, victims and moments)
#   scripts/chaos.sh --no-build 25    # use the build as it is
# Exit status: the test binary's (0 all rounds passed). The seed is printed first and in every
# failure message.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi
rounds=${1:-25}
seed=${2:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
build_dir=${FLIGHTPLAN_BUILD_DIR:-build}

if [ "$build" = 1 ]; then
  scripts/build.sh --target flightplan --target chaos_redistest
fi
echo "chaos: $rounds rounds, seed $seed (re-run: scripts/chaos.sh $rounds $seed)"
start=$(date +%s)
status=0
FLIGHTPLAN_CHAOS_SEED=$seed FLIGHTPLAN_CHAOS_ROUNDS=$rounds \
  "$build_dir/tests/chaos_redistest" --run_test=random_attacks_under_mixed_load --log_level=message || status=$?
echo "chaos: $rounds rounds, seed $seed, $(( $(date +%s) - start )) s, exit status $status"
exit "$status"
