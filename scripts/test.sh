#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh
build_dir=${FLIGHTPLAN_BUILD_DIR:-build}
# The shipped definitions must validate (the README's examples are among them).
"$build_dir/api/flightplan" validate workflows/*.yaml
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)"
