#!/usr/bin/env bash
# The GPU check (perf/gpu_check.py): harness against raw vLLM throughput (cap, force, a 5-budget sweep) and an
# exact --deterministic resume, on a random-weight Qwen2.5-7B-shaped model; no downloads. Figures go to
# gpu_check.json (or --out FILE) and the console. On CPU: bash perf/gpu_check.sh --tiny
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# The script keeps to its own 7-minute plan; this bound stops it at 8 minutes whatever happens.
exec timeout --signal=KILL 480 "$PYTHON" perf/gpu_check.py "$@"
