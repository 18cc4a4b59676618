#!/usr/bin/env bash
# Configures (once) and builds flightplan into ./build. Extra arguments go to `cmake --build`.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${FLIGHTPLAN_BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build_dir" -j "$(nproc)" "$@"
