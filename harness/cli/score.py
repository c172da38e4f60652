"""`harness score`: verdicts without generation, for predictions from any tool or a run directory.

    harness score PRED.jsonl [-o OUT.jsonl] [--judge-url URL --judge-model M --judge-policy P]
    harness score RUN_DIR    [--judge-url URL --judge-model M --judge-policy P]
    harness score PRED.jsonl|RUN_DIR --parity vlmevalkit,lmms-eval,r1v3

PRED.jsonl holds one object per line with `id`, `question`, `answer`, `response`, and optionally
`choices` (a list, or an object letter → text), `answer_type` (mcq, number, math, text),
`thinking` (bool), `accepted_answers` (further gold answers) and `precision` (decimal places;
both may also sit inside a `meta` object, as in a run's items).
Each output line is the input object plus the verdict's fields: `extracted`, `correct`, `method`,
`format_ok`, `rule_correct`, `judge_correct`, `judge_rationale`, `finished` and `detail`. An item
that cannot be scored (an empty gold, an MCQ gold that is no option) gets `method: invalid_item`
with the reason in `detail`; the others are scored. A RUN_DIR is re-scored in place: scores.jsonl
and summary.json are rewritten from items.jsonl and generations.jsonl. The side-by-side summary
(combined, rule-only, judge-only accuracy) goes to stderr. docs/scoring.md says how answers are judged.

`--parity NAME` also scores the MMMU and MathVista responses by the rules of VLMEvalKit, lmms-eval
or the Skywork-R1V3 release and prints, per peer, its accuracy beside ours and the items where the
verdicts differ, each with its reason; `parity-NAME.json` goes into the run directory (for a
predictions file, into --parity-out or beside --output). Predictions lines may carry `benchmark`,
`meta` (MathVista's question_type, answer_type, precision) and `accepted_answers` (every accepted
gold string). docs/parity.md describes the peers' rules.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from harness.config import JUDGE_POLICIES, UNFINISHED_POLICIES
from harness.rundir import iter_json_objects, jsonl_text, write_jsonl_atomic
from harness.types import ANSWER_TYPES, Verdict

THINKING_CHOICES = ("auto", "yes", "no")


class InputError(ValueError):
    """A predictions file the scorer cannot use; the message names the file and line."""


HELP = "score predictions (JSONL) or re-score a run directory"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PRED.jsonl|RUN_DIR", help="predictions file or run directory")
    parser.add_argument("-o", "--output", default=None,
                        help="where to write scored predictions (default: stdout; ignored for a RUN_DIR)")
    parser.add_argument("--thinking", choices=THINKING_CHOICES, default="auto",
                        help="whether responses use <think>...</think> (auto: yes when a response contains "
                             "</think>; a line's own `thinking` field wins)")
    parser.add_argument("--timeout", type=float, default=None, metavar="S",
                        help="hard limit on each item's symbolic (math-verify) check, seconds "
                             "(default: the verifier's, 1.5)")
    parser.add_argument("--workers", type=int, default=2, help="math-verify worker processes")
    parser.add_argument("--unfinished", choices=UNFINISHED_POLICIES, default="marked",
                        help="how a thought that never closed is read: marked (only a committed answer "
                             "marker or box in it counts) or lenient (any marker, as before this option)")
    parity = parser.add_argument_group("parity with other tools' MMMU / MathVista rules")
    parity.add_argument("--parity", action="append", default=[], metavar="NAME",
                        help="vlmevalkit, lmms-eval or r1v3 (repeat the flag or give a comma list)")
    parity.add_argument("--parity-split-think", action="store_true",
                        help="score VLMEvalKit (and R1V3) on the text after </think>, as VLMEvalKit's "
                             "SPLIT_THINK does (default: the whole response, VLMEvalKit's default)")
    parity.add_argument("--parity-seed", type=int, default=0, metavar="N",
                        help="the seed lmms-eval gives Python's random before scoring (its --seed default: 0)")
    parity.add_argument("--parity-out", default=None, metavar="DIR",
                        help="where parity-NAME.json go for a predictions file (default: beside --output)")
    parity.add_argument("--parity-show", type=int, default=20, metavar="N",
                        help="differing items printed per peer (all are in the JSON)")
    judge = parser.add_argument_group("LLM judge (any OpenAI-compatible server)")
    judge.add_argument("--judge-url", default=None, metavar="URL", help="base URL, e.g. http://127.0.0.1:8000/v1")
    judge.add_argument("--judge-model", default=None, metavar="M", help="model name the server knows")
    judge.add_argument("--judge-policy", default=None, choices=JUDGE_POLICIES,
                       help="fallback: judge what rules cannot decide (default with --judge-url); union: "
                            "rule OR judge (the paper's scoring); always: the judge decides every item")
    judge.add_argument("--judge-key-env", default="OPENAI_API_KEY", metavar="VAR",
                       help="environment variable holding the judge's API key (default OPENAI_API_KEY; "
                            "keys are never passed as flags or written to any file)")
    judge.add_argument("--judge-concurrency", type=int, default=8, help="parallel judge requests")
    judge.add_argument("--judge-timeout", type=float, default=60.0, metavar="S", help="per-request timeout")
    judge.add_argument("--judge-retries", type=int, default=3, help="retries per request (with backoff)")
    judge.add_argument("--judge-cache", default=None, metavar="DIR",
                       help="verdict cache directory (default: RUN_DIR/judge_cache for a run directory; "
                            "none for a predictions file)")
    judge.add_argument("--judge-prompt", default="judge_v2.j2", metavar="FILE",
                       help="judge prompt template in prompts/ (its hash goes into the manifest)")


def judge_config(args: argparse.Namespace, default_cache: str | None):
    """The JudgeConfig the flags ask for, or None for rules only."""
    from harness.verify import JudgeConfig

    if args.judge_url is None and args.judge_model is None:
        if args.judge_policy not in (None, "never"):
            raise InputError(f"--judge-policy {args.judge_policy} needs --judge-url and --judge-model")
        return None
    if not args.judge_url or not args.judge_model:
        raise InputError("a judge needs both --judge-url and --judge-model")
    return JudgeConfig(
        base_url=args.judge_url,
        model=args.judge_model,
        api_key=os.environ.get(args.judge_key_env) or "EMPTY",
        policy=args.judge_policy or "fallback",
        concurrency=args.judge_concurrency,
        timeout_s=args.judge_timeout,
        max_retries=args.judge_retries,
        cache_dir=args.judge_cache or default_cache,
        prompt=args.judge_prompt,
    )


def _check_field(path: str, line_no: int, row: dict, name: str, kinds: tuple, required: bool) -> None:
    if name not in row or row[name] is None:
        if required:
            raise InputError(f"{path}:{line_no}: missing required field {name!r} (item {row.get('id')!r})")
        return
    if not isinstance(row[name], kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise InputError(f"{path}:{line_no}: field {name!r} must be {expected}, got "
                         f"{type(row[name]).__name__} (item {row.get('id')!r})")


def read_predictions(path: str, thinking: str = "auto") -> tuple[list[dict[str, Any]], list]:
    """Rows as read, and one VerifyItem per row; every problem names its file and line."""
    from harness.verify import VerifyItem
    from harness.verify.items import answer_extras

    rows, items = [], []
    for line_no, row in iter_json_objects(Path(path), InputError):
        if isinstance(row.get("id"), int):
            row["id"] = str(row["id"])
        for name in ("id", "question", "answer", "response"):
            _check_field(path, line_no, row, name, (str,), required=True)
        _check_field(path, line_no, row, "choices", (list, dict), required=False)
        _check_field(path, line_no, row, "answer_type", (str,), required=False)
        _check_field(path, line_no, row, "thinking", (bool,), required=False)
        _check_field(path, line_no, row, "meta", (dict,), required=False)
        meta = row.get("meta") or {}
        if row.get("answer_type") is not None and row["answer_type"] not in ANSWER_TYPES:
            raise InputError(f"{path}:{line_no}: answer_type {row['answer_type']!r} is not one of "
                             f"{ANSWER_TYPES} (item {row['id']!r})")
        if row.get("thinking") is not None:
            uses_thinking = row["thinking"]
        elif thinking == "auto":
            uses_thinking = "</think>" in row["response"]
        else:
            uses_thinking = thinking == "yes"
        try:
            items.append(VerifyItem(id=row["id"], question=row["question"], answer=row["answer"],
                                    response=row["response"], answer_type=row.get("answer_type"),
                                    choices=row.get("choices") or None, thinking=uses_thinking,
                                    **answer_extras({**meta, **row})))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}:{line_no}: {exc}") from exc
        rows.append(row)
    return rows, items


def symbolic_timeout(args: argparse.Namespace) -> float:
    """--timeout, or the verifier's default."""
    from harness.verify.symbolic import DEFAULT_TIMEOUT_S

    return args.timeout if args.timeout is not None else DEFAULT_TIMEOUT_S


def _write_jsonl(rows: list[dict[str, Any]], output: str | None) -> None:
    if output is None:
        sys.stdout.write(jsonl_text(rows))
        sys.stdout.flush()
        return
    write_jsonl_atomic(Path(output), rows)


def score_predictions(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list, list[Verdict]]:
    from harness.verify import Verifier

    rows, items = read_predictions(args.path, args.thinking)
    with Verifier(judge=judge_config(args, None), timeout_s=symbolic_timeout(args), workers=args.workers,
                  unfinished=args.unfinished) as verifier:
        verdicts = verifier.score(items, progress=True)
    _write_jsonl([{**row, **verdict.to_json()} for row, verdict in zip(rows, verdicts)], args.output)
    return rows, items, verdicts


def score_run_dir(args: argparse.Namespace) -> list[Verdict]:
    from harness.verify.scoring import score_run
    from harness.rundir import RunDir
    from harness.metrics.summary import write_summary

    run_dir = RunDir(args.path)
    for needed in (run_dir.manifest_path, run_dir.items_path, run_dir.generations_path):
        if not needed.exists():
            raise InputError(f"{args.path}: not a run directory ({needed.name} is missing)")
    judge = judge_config(args, str(run_dir.path / "judge_cache"))
    with run_dir.lock("harness score"):  # a run still writing the directory is not re-scored under it
        rows = score_run(run_dir, judge=judge, progress=True, unfinished=args.unfinished)
        write_summary(run_dir.path)
    return [Verdict.from_json(row) for row in rows if row.get("method") != "error"]


def parity(args: argparse.Namespace, peers: list[str], data: Any, directory: Path | None, source: Path,
           default_cache: str | None) -> None:
    """Compare with each peer; the reports go to stderr and, given a directory, to its JSON files."""
    from harness.verify.parity import PeerOptions, format_report, run_parity, write_reports

    options = PeerOptions(split_think=args.parity_split_think, seed=args.parity_seed)
    reports = run_parity(data, peers, options, judge=judge_config(args, default_cache),
                         timeout_s=symbolic_timeout(args), workers=args.workers)
    for report in reports:
        print(format_report(report, limit=args.parity_show), file=sys.stderr)
    if data.skipped:
        left_out = ", ".join(f"{name} ({count})" for name, count in sorted(data.skipped.items()))
        print(f"parity: only MMMU and MathVista are compared; left out {left_out}", file=sys.stderr)
    if directory is None:
        print("parity: no JSON written (give --parity-out DIR or --output FILE)", file=sys.stderr)
        return
    for path in write_reports(reports, directory, source, data.skipped):
        print(f"parity: wrote {path}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from harness.metrics.figures import verdict_summary
    from harness.metrics.summary import format_verdicts
    from harness.verify.parity import from_predictions, from_run_dir, parse_peers

    try:
        peers = parse_peers(args.parity)
        if Path(args.path).is_dir():
            verdicts = score_run_dir(args)
            if peers:
                from harness.rundir import RunDir

                run_dir = RunDir(args.path)
                parity(args, peers, from_run_dir(run_dir), run_dir.path, run_dir.scores_path,
                       str(run_dir.path / "judge_cache"))
        elif Path(args.path).is_file():
            rows, items, verdicts = score_predictions(args)
            if peers:
                directory = args.parity_out or (str(Path(args.output).parent) if args.output else None)
                parity(args, peers, from_predictions(rows, items, verdicts, args.path),
                       Path(directory) if directory else None, Path(args.path), None)
        else:
            raise InputError(f"{args.path}: no such file or directory")
    except (InputError, ValueError, OSError) as error:
        print(f"harness score: {error}", file=sys.stderr)
        return 2
    print(format_verdicts(verdict_summary(verdicts)), file=sys.stderr)
    return 0
