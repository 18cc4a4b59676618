#!/usr/bin/env bash
# The main job, for now: installs what is missing, builds, and runs the delivery saga in process
# (virtual time) on the example request. Extra arguments go to `flightplan run`, e.g.
#   scripts/dev.sh --inject drone.schedule:fail=1      # watch the saga compensate
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh --target flightplan
build_dir=${FLIGHTPLAN_BUILD_DIR:-build}
exec "$build_dir/api/flightplan" run workflows/delivery.yaml \
  --input @workflows/examples/delivery-input.json --history-out "$build_dir/delivery-history.json" "$@"
