#!/usr/bin/env bash
# Every benchmark scenario from a clean clone: installs what is missing (LiteLLM proxy 1.80.0 in
# its own venv, bench/.litellm-venv), then prints the table (also in bench/results/latest.md).
#   bench/run.sh                   all scenarios
#   bench/run.sh latency images    some of them: latency throughput inflight streamed edits jobs
#                                  s3 waiting images scale
#   BENCH_QUICK=1 bench/run.sh     a smoke run with a tenth of the requests
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

# Exactly this release: 1.107.0 was a compromised one. Its own venv keeps its pins away from ours.
LITELLM=1.80.0
lite=bench/.litellm-venv
if ! "$lite/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('litellm') != '$LITELLM')" 2>/dev/null; then
    echo "installing LiteLLM proxy $LITELLM into $lite (a few minutes)" >&2
    { [ -x "$lite/bin/python" ] || python3 -m venv "$lite"; } \
        && "$lite/bin/python" -m pip install -q --disable-pip-version-check "litellm[proxy]==$LITELLM" \
        || echo "could not install LiteLLM; its columns are skipped" >&2
fi
exec .venv/bin/python -m bench.run "$@"
