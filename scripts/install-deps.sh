#!/usr/bin/env bash
# Installs the Debian 12 packages flightplan builds and tests with, only those missing.
# Needs root (or sudo) when something is missing; does nothing otherwise.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-test1.81-dev
  nlohmann-json3-dev libyaml-cpp-dev libjq-dev libcli11-dev
  libbenchmark-dev
  redis-server libhiredis-dev
  prometheus-cpp-dev
)
# The dashboard's browser test: Debian's Chromium driven by playwright-core (npm). Skipped with
# FLIGHTPLAN_NO_BROWSER=1 (the first quick-start command does not need a browser).
if [ "${FLIGHTPLAN_NO_BROWSER:-0}" != 1 ]; then
  packages+=(chromium)
  command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
