#!/usr/bin/env bash
# Regenerates the golden histories under tests/replay/ after a DELIBERATE change of engine semantics
# or of a shipped workflow. Review the diff: every changed event is a behaviour change.
set -euo pipefail
cd "$(dirname "$0")/.."
flightplan=${FLIGHTPLAN_BUILD_DIR:-build}/api/flightplan
start=2026-11-21T00:00:00Z

golden() {  # golden NAME WORKFLOW INPUT [run flags...]
  local name=$1 workflow=$2 input=$3
  shift 3
  "$flightplan" run "workflows/$workflow.yaml" --input "$input" --start-time "$start" --id "golden-$name" \
    --history-out "tests/replay/$workflow--$name.json" "$@" >/dev/null || true
}

input=@tests/replay/inputs/delivery.json
golden happy delivery "$input"
golden retried delivery "$input" --inject "drone.schedule:fail=0.5" --seed 10
golden timeout delivery @tests/replay/inputs/delivery-short-deadline.json
golden compensated delivery "$input" --inject "drone.schedule:fail=1"

# The benchmark workload. Each case shows what it names: `retried` an activity_failed and then a
# completion (seed chosen for that), `timeout` an activity that never answers (hang=1) timing out on
# every attempt until the saga compensates, `compensated` the last step failing for good.
input=@tests/replay/inputs/bench-5step.json
golden happy bench-5step "$input"
golden retried bench-5step "$input" --inject "bench.scheduleDrone:fail=0.5" --seed 5
golden timeout bench-5step "$input" --inject "bench.scheduleDrone:hang=1"
golden compensated bench-5step "$input" --inject "bench.createDelivery:fail=1"
