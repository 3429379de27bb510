#!/usr/bin/env bash
# Builds flowbpf and runs the selftest suite on this kernel.
# Extra arguments go to the runner (e.g. -t monitor -v).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s -j"$(nproc)"
exec ./.output/selftests/runner "$@"
