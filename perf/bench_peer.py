"""The harness against a peer, lmms-eval 0.7.3 (its vLLM backend), on the same items and model: wall time and agreement.

lmms-eval is not a dependency: it runs from its own virtual environment, every package pinned in
perf/lmms_eval_env.txt (built on first use under the peer cache of tests/peer_envs.py, or pass
`--lmms-python`). Both sides read one generated text benchmark (the sample benchmark's arithmetic and
multiple-choice items, as many as `--items`; lmms-eval through a task file written here over the same
JSONL, no download) and decode greedily with the model's own chat template and system prompt, so their
responses should match. Greedy decoding draws one answer per item, so `--samples K` puts each item in
the data K times (ids `<id>~<k>`), for both sides: K samples of an item, identical by construction,
the same work as a K-sample run. Both sets of responses are scored by the harness's verifier.

Printed: wall time of each command (model load included, as a user sees it), their ratio, accuracy,
identical responses and agreeing verdicts.

    python perf/bench_peer.py                                   # SmolLM2-135M, 40 items, budget 128
    python perf/bench_peer.py --items 200 --samples 5 --budget 256   # full size: 1,000 generations a side
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from perf.workload import CPU_ENVIRONMENT, REPO, bench_model, write_text_benchmark  # noqa: E402

PINS = Path(__file__).resolve().parent / "lmms_eval_env.txt"
ENV = {**CPU_ENVIRONMENT, "HF_DATASETS_OFFLINE": "1"}

TASK_UTILS = '''
def doc_to_visual(doc):
    return []


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return doc["prompt"]


def process_results(doc, results):
    return {"nonempty": float(bool(results[0].strip()))}
'''


def lmms_python() -> Path:
    """lmms-eval's environment, built from the pinned list on first use (a few minutes, about 4.5 GB)."""
    from tests.peer_envs import peer_python

    pins = [line.strip() for line in PINS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return peer_python("lmms-eval", pins)


def write_items(benchmark: Path, data_dir: Path, root: Path) -> list[dict[str, Any]]:
    """The benchmark's items as the harness prompts them, as a JSONL dataset for lmms-eval."""
    from harness.bench.loaders import load_samples
    from harness.bench.spec import get_spec

    spec = get_spec(str(benchmark))
    rows = [{"id": s.id, "prompt": spec.render_prompt(s), "question": s.question, "answer": s.answer,
             "answer_type": s.answer_type, "choices": s.choices} for s in load_samples(spec, data_dir)]
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def write_task(root: Path, budget: int) -> Path:
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text(TASK_UTILS)
    (tasks / "harness_items.yaml").write_text(f"""task: harness_items
dataset_path: json
dataset_kwargs:
  data_files:
    test: {root / 'items.jsonl'}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {budget}
  temperature: 0
  do_sample: false
process_results: !function utils.process_results
metric_list:
  - metric: nonempty
    aggregation: mean
    higher_is_better: true
""")
    return tasks


def run_lmms(python: str, model: str, tasks: Path, out: Path, budget: int, batch_size: int,
             ids: list[str]) -> tuple[float, dict[str, str], str]:
    command = [python, "-m", "lmms_eval", "--model", "vllm",
               "--model_args", f"model={model},max_new_tokens={budget},gpu_memory_utilization=0.5,"
                               "enforce_eager=True,dtype=float32,max_model_len=4096,enable_chunked_prefill=False",
               "--tasks", "harness_items", "--include_path", str(tasks), "--batch_size", str(batch_size),
               "--log_samples", "--output_path", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    started = time.perf_counter()
    result = subprocess.run(command, env={**env, **ENV}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        return wall, {}, log
    responses = {}
    for path in out.rglob("*samples_harness_items*.jsonl"):
        for line in path.read_text().split("\n"):
            if not line.strip():
                continue
            row = json.loads(line)
            response = row.get("filtered_resps") or row.get("resps")
            while isinstance(response, list):
                response = response[0] if response else ""
            # lmms-eval 0.7 logs the item's position (doc_id) rather than the item itself.
            key = row["doc"]["id"] if "doc" in row else ids[int(row["doc_id"])]
            responses[key] = str(response)
    return wall, responses, log


def run_harness(model: str, benchmark: Path, data_dir: Path, out: Path, budget: int,
                system: str) -> tuple[float, dict[str, str]]:
    command = [sys.executable, "-m", "harness", "run", "--model", model, "--bench", str(benchmark),
               "--data-dir", str(data_dir), "--mode", "nothink", "--family", "native", "--system", system,
               "--temperature", "0", "--budget", str(budget), "--dtype", "float32", "--max-model-len", "4096",
               "--out", str(out), "--quiet"]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, **ENV, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"bench_peer: harness run failed ({done.returncode}): {done.stderr[-2000:]}")
    from harness.rundir import read_jsonl

    return wall, {row["id"]: row["text"] for row in read_jsonl(out / "generations.jsonl")}


def verdicts(items: list[dict[str, Any]], responses: dict[str, str]) -> dict[str, bool | None]:
    from harness.verify import Verifier, VerifyItem

    keyed = [(item["id"], VerifyItem(id=item["id"], question=item["question"], answer=item["answer"],
                                     response=responses[item["id"]], answer_type=item["answer_type"],
                                     choices=item["choices"] or None, thinking=False))
             for item in items if item["id"] in responses]
    with Verifier() as verifier:
        results = verifier.score([v for _, v in keyed])
    return {key: verdict.correct for (key, _), verdict in zip(keyed, results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lmms-python", help="python of an environment with lmms-eval (default: build the pinned one)")
    parser.add_argument("--model", default="default", help="default (SmolLM2-135M-Instruct) or a model directory")
    parser.add_argument("--items", type=int, default=40, help="text items (default 40)")
    parser.add_argument("--samples", type=int, default=1, help="greedy samples per item (default 1)")
    parser.add_argument("--budget", type=int, default=128)
    parser.add_argument("--lmms-batch-size", type=int, default=64, help="lmms-eval --batch_size (default 64)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    root = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    model = bench_model(args.model, root)
    python = args.lmms_python or str(lmms_python())
    # The model's own default system prompt, which lmms-eval's chat call leaves in place.
    probe = AutoTokenizer.from_pretrained(model).apply_chat_template([{"role": "user", "content": "X"}], tokenize=False)
    system = probe.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0] if "<|im_start|>system\n" in probe \
        else "You are a helpful assistant."
    benchmark = write_text_benchmark(root / "data", args.items, copies=args.samples)
    items = write_items(benchmark, root / "data", root)
    tasks = write_task(root, args.budget)
    print(f"model {model}  {args.items} items x {args.samples} greedy samples = {len(items)} generations a side  "
          f"budget {args.budget}  machine load average {os.getloadavg()[0]:.1f}", flush=True)
    lmms_wall, lmms_responses, log = run_lmms(python, model, tasks, root / "lmms", args.budget, args.lmms_batch_size,
                                             [item["id"] for item in items])
    if not lmms_responses:
        print("lmms-eval did not produce responses; the end of its log:\n" + "\n".join(log.splitlines()[-40:]))
        sys.exit(1)
    harness_wall, harness_responses = run_harness(model, benchmark, root / "data", root / "harness", args.budget,
                                                  system)
    ours, theirs = verdicts(items, harness_responses), verdicts(items, lmms_responses)
    shared = [k for k in ours if k in theirs]
    accuracy = {name: 100 * sum(bool(v[k]) for k in shared) / len(shared) for name, v in (("harness", ours),
                                                                                          ("lmms-eval", theirs))}
    same_text = sum(harness_responses[k].strip() == lmms_responses[k].strip() for k in shared)
    same_verdict = sum(ours[k] == theirs[k] for k in shared)
    print(f"{'':12}{'wall s':>9}{'accuracy':>10}")
    print(f"{'harness':12}{harness_wall:>9.1f}{accuracy['harness']:>10.1f}")
    print(f"{'lmms-eval':12}{lmms_wall:>9.1f}{accuracy['lmms-eval']:>10.1f}")
    print(f"wall ratio harness / lmms-eval: {harness_wall / lmms_wall:.3f}")
    print(f"identical responses: {same_text}/{len(shared)}   agreeing verdicts: {same_verdict}/{len(shared)}   "
          f"(of {len(items)} generations a side)")
    print(f"machine load average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": model, "items": args.items, "samples": args.samples, "budget": args.budget,
            "wall_s": {"harness": harness_wall, "lmms-eval": lmms_wall}, "accuracy": accuracy,
            "generations": len(items), "compared": len(shared), "identical_responses": same_text,
            "agreeing_verdicts": same_verdict}, indent=2))


if __name__ == "__main__":
    main()
