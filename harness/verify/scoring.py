"""Scoring a run directory: items + generations → scores.jsonl, through the one verifier.

`harness run` calls this after generating, and `harness score RUN_DIR` calls it again later (say, with
a judge added): scoring never needs the model. Generations that errored are recorded as errors,
never as wrong answers.
"""

from __future__ import annotations

import os
from typing import Any

from harness.modes import think_opened
from harness.rundir import RunDir, write_json_atomic, write_jsonl_atomic
from harness.types import Verdict


def verify_item(item: dict[str, Any], generation: dict[str, Any], thinking: bool) -> Any:
    """The VerifyItem for one generation of a run-directory item, with the `accepted_answers` and
    `precision` its `meta` may carry (`harness.verify.items.answer_extras`). Raises TypeError or
    ValueError, naming the field, when the item's fields cannot make one."""
    from harness.verify import VerifyItem
    from harness.verify.items import answer_extras

    meta = item.get("meta") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"meta must be an object, got {type(meta).__name__}")
    return VerifyItem(id=item["id"], question=item.get("question", ""), answer=item.get("answer", ""),
                      response=generation.get("text", ""), answer_type=item.get("answer_type"),
                      choices=item.get("choices") or None, thinking=thinking, **answer_extras(meta))


def score_run(run_dir: RunDir, judge: Any = None, progress: bool = False, verifier: Any = None,
              unfinished: str = "marked") -> list[dict[str, Any]]:
    """Score every generation in the run directory; returns the rows written to scores.jsonl.

    `judge` is a `harness.verify.JudgeConfig` or None; when None, the judge settings recorded in the
    manifest apply (policy `never` unless the run asked for a judge). `verifier` is a judge-less
    `Verifier` to reuse across runs (a sweep's); a run that needs a judge gets its own, reading
    unfinished thoughts by the `unfinished` policy. Each item's `meta` may carry `accepted_answers`
    and `precision` (see `harness.verify.items.answer_extras`); an item whose fields cannot make a
    verifier item is scored `invalid_item` with the reason, and the rest of the run is scored.
    """
    from harness.verify import JudgeConfig, Verifier

    manifest = run_dir.manifest()
    config = manifest.get("config", {})
    thinking = think_opened(config.get("mode", "slow"))
    if judge is None and config.get("judge_policy", "never") != "never":
        # The key is never in the manifest: it comes from the environment variable the run named.
        judge = JudgeConfig(base_url=config["judge_url"], model=config["judge_model"], policy=config["judge_policy"],
                            api_key=os.environ.get(config.get("judge_key_env") or "OPENAI_API_KEY") or "EMPTY",
                            cache_dir=str(run_dir.path / "judge_cache"))
    items = run_dir.items()
    generations = run_dir.generations(token_ids=False)
    keys = sorted(generations, key=lambda k: (k[0], k[1], k[2]))
    to_verify: list[tuple[tuple[str, str, int], Any]] = []
    verdicts: dict[tuple[str, str, int], Verdict] = {}
    for key in keys:
        generation = generations[key]
        item = items.get((key[0], key[1]))
        if item is None:
            raise ValueError(f"{run_dir.generations_path}: generation for unknown item {key[0]}/{key[1]} "
                             f"(no line in {run_dir.items_path})")
        if generation.get("error"):
            verdicts[key] = Verdict(extracted=None, correct=None, method="error", format_ok=False)
            continue
        try:
            to_verify.append((key, verify_item({**item, "id": key[1]}, generation, thinking)))
        except (TypeError, ValueError) as error:
            reason = str(error) if str(error).startswith(f"item {key[1]!r}") else f"item {key[1]!r}: {error}"
            verdicts[key] = Verdict(extracted=None, correct=None, method="invalid_item", format_ok=False,
                                    detail=f"{run_dir.items_path.name}: {reason}")
    if verifier is not None and judge is None:
        results = verifier.score([v for _, v in to_verify], progress=progress)
        judge_manifest = verifier.manifest()
    else:
        with Verifier(judge=judge, unfinished=unfinished) as own:
            results = own.score([v for _, v in to_verify], progress=progress)
            judge_manifest = own.manifest()
    for (key, _), verdict in zip(to_verify, results):
        verdicts[key] = verdict
    rows = []
    for key in keys:
        item = items[(key[0], key[1])]
        rows.append({"benchmark": key[0], "id": key[1], "sample_index": key[2], "subject": item.get("subject", ""),
                     **verdicts[key].to_json()})
    write_jsonl_atomic(run_dir.scores_path, rows)
    # What decided these verdicts (rules version, unfinished-thought policy, judge) goes with them.
    manifest["judge"] = {**manifest.get("judge", {}), **judge_manifest}
    write_json_atomic(run_dir.manifest_path, manifest)
    return rows
