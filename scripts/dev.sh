#!/usr/bin/env bash
# The main job: installs what is missing, builds, and starts `flightplan dev` — HTTP API on
# http://127.0.0.1:8080, orchestrator, supervisor, activity workers and a private redis-server
# (AOF on, data under ./.flightplan). Ctrl-C drains and stops everything. Extra arguments go to
# `flightplan dev`, e.g.
#   scripts/dev.sh --time-scale 60                      # the simulated drones fly 60x faster
#   scripts/dev.sh --inject drone.schedule:fail=1       # watch every delivery compensate
set -euo pipefail
cd "$(dirname "$0")/.."

FLIGHTPLAN_NO_BROWSER=1 scripts/install-deps.sh
scripts/build.sh --target flightplan
build_dir=${FLIGHTPLAN_BUILD_DIR:-build}
exec "$build_dir/api/flightplan" dev "$@"
