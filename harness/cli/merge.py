"""`harness merge`: join the run directories of `--shard 0/N … N-1/N` into the one run they split.

Cluster schedulers run each shard as its own job; merging checks that the shards are one run (the
same comparable settings, model, data, template and bans; every index once; each shard complete),
then writes a run directory in which items and generations are back in benchmark order, scores it,
and sums the shards' throughput. The result is what an unsharded `harness run` would have written:
the same command without `--shard` resumes it and finds nothing to do.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.rundir import RunDir, RunDirError, append_jsonl, read_json, read_jsonl, write_json_atomic


class MergeError(ValueError):
    """The directories are not the complete shards of one run; the message says which and why."""


def _shard_of(run_dir: RunDir) -> tuple[int, int]:
    if not run_dir.manifest_path.exists():
        raise MergeError(f"{run_dir.path}: not a run directory (no manifest.json)")
    shard = run_dir.manifest().get("shard")
    if not shard:
        raise MergeError(f"{run_dir.path}: not a shard (its run had no --shard)")
    return int(shard["index"]), int(shard["count"])


def check_shards(paths: list[Path]) -> list[RunDir]:
    """The shard directories in index order, or a MergeError naming what does not fit."""
    from harness.runner import RunError, check_comparable

    if not paths:
        raise MergeError("no shard directories given")
    by_index: dict[int, RunDir] = {}
    counts = set()
    for path in paths:
        run_dir = RunDir(path)
        index, count = _shard_of(run_dir)
        counts.add(count)
        if index in by_index:
            raise MergeError(f"shard {index} appears twice: {by_index[index].path} and {path}")
        by_index[index] = run_dir
    if len(counts) > 1:
        raise MergeError(f"the directories come from different shardings (N = {sorted(counts)})")
    count = counts.pop()
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise MergeError(f"shards {missing} of {count} are missing")
    shards = [by_index[i] for i in range(count)]
    reference = shards[0].manifest()
    for run_dir in shards[1:]:
        try:
            check_comparable(run_dir, reference)
        except RunError as exc:
            raise MergeError(f"{run_dir.path} and {shards[0].path} are not shards of one run: {exc}") from None
    for run_dir in shards:
        manifest = run_dir.manifest()
        samples = int(manifest["config"]["samples"])
        expected = sum(int(b.get("n_items", 0)) for b in manifest["benchmarks"].values()) * samples
        found = len(run_dir.generations())
        if found < expected:
            raise MergeError(f"{run_dir.path} is incomplete ({found} of {expected} generations): "
                             "re-run its command to finish it, then merge")
    return shards


def merge_shards(paths: list[str | Path], out: str | Path) -> Path:
    """Write the merged run directory `out` (which must not hold a run yet) and score it."""
    from harness.verify.scoring import score_run
    from harness.metrics.summary import write_summary

    shards = check_shards([Path(p) for p in paths])
    target = RunDir(out)
    if target.path.exists() and any(target.path.iterdir()):
        raise MergeError(f"{target.path} is not empty: merge into a new directory")
    count = len(shards)
    manifest = shards[0].manifest()
    manifest.pop("shard", None)
    manifest["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["config"] = {**manifest["config"], "shard": None, "out": str(target.path)}
    manifest["merged_from"] = [{"dir": str(s.path), "index": i, "git_sha": s.manifest().get("git_sha")}
                               for i, s in enumerate(shards)]
    for name, block in manifest["benchmarks"].items():
        block["n_items"] = sum(int(s.manifest()["benchmarks"].get(name, {}).get("n_items", 0)) for s in shards)
    target.path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(target.manifest_path, manifest)

    # Shard i holds items i, i+N, ...: position p of shard i is item i + p*N of its benchmark.
    items = [list(read_jsonl(s.items_path)) for s in shards]
    ordered: list[tuple[str, int, dict[str, Any]]] = []
    for index, rows in enumerate(items):
        position: dict[str, int] = {}
        for row in rows:
            p = position.get(row["benchmark"], 0)
            position[row["benchmark"]] = p + 1
            ordered.append((row["benchmark"], index + p * count, row))
    benchmark_order = list(manifest["benchmarks"])
    ordered.sort(key=lambda e: (benchmark_order.index(e[0]) if e[0] in benchmark_order else len(benchmark_order), e[1]))
    append_jsonl(target.items_path, [row for _, _, row in ordered])
    generations = {}
    for run_dir in shards:
        generations.update(run_dir.generations())
    rank = {(b, str(row["id"])): n for n, (b, _, row) in enumerate(ordered)}
    keys = sorted(generations, key=lambda k: (rank.get((k[0], k[1]), len(rank)), k[2]))
    append_jsonl(target.generations_path, [generations[k] for k in keys])

    score_run(target)
    throughput: dict[str, Any] = {"shards": count}
    for run_dir in shards:
        shard_throughput = read_json(run_dir.summary_path).get("throughput", {}) if run_dir.summary_path.exists() else {}
        for key, value in shard_throughput.items():
            if isinstance(value, (int, float)) and key.endswith(("_s", "_tokens")):
                throughput[key] = throughput.get(key, 0) + value
            elif key == "engine":
                throughput[key] = value
    # Shards run side by side: the merged run took as long as its slowest shard.
    walls = [read_json(s.summary_path).get("throughput", {}).get("wall_s", 0) for s in shards if s.summary_path.exists()]
    throughput["slowest_shard_wall_s"] = max(walls) if walls else 0
    write_summary(target.path, throughput_update=throughput)
    return target.path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("merge", help="join the run directories of --shard i/N runs",
                                   description="Check that the directories are the complete shards of one run, "
                                               "then write and score the merged run directory.")
    parser.add_argument("shards", nargs="+", help="the shard run directories (any order)")
    parser.add_argument("--out", required=True, help="the merged run directory to create")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        path = merge_shards(args.shards, args.out)
    except (MergeError, RunDirError) as exc:
        print(f"harness merge: error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {len(args.shards)} shards into {path}", file=sys.stderr)
    return 0
