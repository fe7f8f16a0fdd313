#!/usr/bin/env bash
# Every benchmark scenario from a clean clone: installs what is missing, then prints the table
# (also written to bench/results/latest.md). A few minutes on two cores.
#   bench/run.sh                 all scenarios
#   bench/run.sh latency images  some of them (latency throughput inflight streams images scale)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}" >&2
    as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
        || echo "could not install ${missing[*]}; the image scenario falls back to aiohttp" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m bench.run "$@"
