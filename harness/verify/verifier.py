"""The verifier: rules for every item, math-verify in isolated workers, then the judge by policy.

One `Verifier` serves `harness run`, `harness score` and the trainer's reward, so evaluation and
RL can never disagree about what is correct. Every verdict keeps both stages' opinions
(`rule_correct`, `judge_correct`) and names the stage that decided (`method`).
"""

from __future__ import annotations

import atexit
import sys
import threading
from importlib import metadata

from harness.types import Verdict
from harness.verify.items import JudgeConfig, VerifyItem, normalize_choices
from harness.verify.judge import Judge, JudgeRequest
from harness.verify.rules import FINAL_METHODS, UNFINISHED_POLICIES, RuleOutcome, rule_stage
from harness.verify.symbolic import DEFAULT_TIMEOUT_S, SymbolicPool, SymbolicResult, SymbolicTask

# 2: the exact algebra fast path before math-verify. 3: hedges, committed markers in unfinished
# thoughts, invalid items as verdicts, accepted answers and per-item precision.
RULES_VERSION = "3"
_SYMBOLIC_CACHE_SIZE = 100_000
_INVALID_SHOWN = 10  # invalid items named on stderr per scoring call; the rest are counted
_NEVER_JUDGED = FINAL_METHODS | {"rule_error"}


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _apply_symbolic(outcome: RuleOutcome, result: SymbolicResult) -> None:
    if result.status == "ok":
        outcome.correct, outcome.method, outcome.decisive = bool(result.equal), "math_verify", True
    else:
        method = result.status if result.status in ("timeout", "too_long", "refused") else "symbolic_error"
        outcome.correct, outcome.method, outcome.decisive = None, method, False
        outcome.detail = result.detail
    outcome.symbolic = None


def _rules_or_error(item: VerifyItem, fast_path: bool, unfinished: str) -> RuleOutcome:
    """The rule stage, with any failure on this item kept to this item (method `rule_error`)."""
    try:
        return rule_stage(item, fast_path, unfinished)
    except Exception as error:  # a defect on one item must not lose the other items' verdicts
        return RuleOutcome(item.answer_type, None, None, "rule_error", False, True, "",
                           detail=f"{type(error).__name__}: {str(error)[:200]}")


def _report_invalid(items: list[VerifyItem], outcomes: list[RuleOutcome]) -> None:
    bad = [(item, o) for item, o in zip(items, outcomes) if o.method in ("invalid_item", "rule_error")]
    for item, outcome in bad[:_INVALID_SHOWN]:
        print(f"[verify] item {item.id!r} not scored ({outcome.method}): {outcome.detail}", file=sys.stderr)
    if len(bad) > _INVALID_SHOWN:
        print(f"[verify] ... and {len(bad) - _INVALID_SHOWN} more items not scored", file=sys.stderr)


class Verifier:
    """Scores items; owns the math-verify worker pool and, when configured, the judge client."""

    def __init__(self, judge: JudgeConfig | None = None, timeout_s: float = DEFAULT_TIMEOUT_S, workers: int = 2,
                 memory_mb: int = 2048, fast_path: bool = True, unfinished: str = "marked") -> None:
        if unfinished not in UNFINISHED_POLICIES:
            raise ValueError(f"unfinished-thought policy {unfinished!r} is not one of {UNFINISHED_POLICIES}")
        self.judge_config = judge
        self.policy = judge.policy if judge else "never"
        self.timeout_s = timeout_s
        self.fast_path = fast_path  # off only to measure it: verdicts are the same either way
        self.unfinished = unfinished  # "marked": committed markers only; "lenient": any marker (before v3)
        self._judge = Judge(judge) if judge is not None and judge.policy != "never" else None
        self._pool = SymbolicPool(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb)
        self._symbolic_cache: dict[SymbolicTask, SymbolicResult] = {}
        self._lock = threading.Lock()

    def score(self, items: list[VerifyItem], progress: bool = False) -> list[Verdict]:
        """One verdict per item, in input order."""
        with self._lock:
            outcomes = [_rules_or_error(item, self.fast_path, self.unfinished) for item in items]
            _report_invalid(items, outcomes)  # always: a user must see why an item has no score
            self._run_symbolic(outcomes, progress)
            judged = self._run_judge(items, outcomes, progress)
            return [self._combine(o, judged.get(i)) for i, o in enumerate(outcomes)]

    def _run_symbolic(self, outcomes: list[RuleOutcome], progress: bool) -> None:
        waiting: dict[SymbolicTask, list[RuleOutcome]] = {}
        for o in outcomes:
            if o.symbolic:
                waiting.setdefault(o.symbolic, []).append(o)
        wanted = [task for task in waiting if task not in self._symbolic_cache]
        if wanted and progress:
            print(f"[verify] math-verify: {len(wanted)} comparisons", file=sys.stderr)
        fresh = dict(zip(wanted, self._pool.compare(wanted))) if wanted else {}
        for task, result in fresh.items():
            if result.status in ("ok", "too_long", "refused"):  # timeouts and errors are retried next time
                if len(self._symbolic_cache) >= _SYMBOLIC_CACHE_SIZE:
                    self._symbolic_cache.clear()
                self._symbolic_cache[task] = result
        for task, group in waiting.items():
            result = fresh.get(task) or self._symbolic_cache[task]
            for o in group:
                _apply_symbolic(o, result)

    def _needs_judge(self, outcome: RuleOutcome) -> bool:
        if outcome.method in _NEVER_JUDGED:
            return False
        if self.policy == "fallback":
            return not outcome.decisive
        if self.policy == "union":
            return outcome.correct is not True
        return self.policy == "always"

    def _run_judge(self, items, outcomes, progress) -> dict:
        if self._judge is None:
            return {}
        chosen = [i for i, o in enumerate(outcomes) if self._needs_judge(o)]
        if not chosen:
            return {}
        if progress:
            print(f"[verify] judge ({self.policy}): {len(chosen)} items", file=sys.stderr)
        requests = [
            JudgeRequest(
                question=items[i].question,
                gold=items[i].answer,
                response=outcomes[i].answer_text,
                choices=tuple(normalize_choices(items[i].id, items[i].choices).items()),
            )
            for i in chosen
        ]
        return dict(zip(chosen, self._judge.judge(requests)))

    def _combine(self, outcome: RuleOutcome, judged) -> Verdict:
        verdict = Verdict(
            extracted=outcome.extracted,
            correct=outcome.correct,
            method=outcome.method,
            format_ok=outcome.format_ok,
            rule_correct=outcome.correct,
            finished=outcome.finished,
            detail=outcome.detail,
        )
        if judged is None:
            return verdict
        if judged.error is not None:
            verdict.correct, verdict.method = None, "judge_error"
            verdict.judge_rationale = judged.error
            return verdict
        verdict.judge_correct = judged.correct
        verdict.judge_rationale = judged.rationale
        verdict.method = "judge"
        verdict.correct = (outcome.correct is True) or judged.correct if self.policy == "union" else judged.correct
        return verdict

    def manifest(self) -> dict:
        """What decided the verdicts, for manifest.json (`judge` section)."""
        judge = self._judge.manifest() if self._judge else {"policy": "never", "model": None,
                                                            "prompt_sha256": None}
        judge["rules"] = {
            "version": RULES_VERSION,
            "unfinished": self.unfinished,
            "symbolic_timeout_s": self.timeout_s,
            "math_verify": _package_version("math-verify"),
        }
        return judge

    @property
    def workers_killed(self) -> int:
        """math-verify workers killed at their deadline so far."""
        return self._pool.killed

    @property
    def judge_calls(self) -> int:
        return self._judge.calls if self._judge else 0

    def close(self) -> None:
        self._pool.close()
        if self._judge:
            self._judge.close()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------ one item at a time

_shared: dict[tuple[float, str], Verifier] = {}
_shared_lock = threading.Lock()


def shared_verifier(timeout_s: float = DEFAULT_TIMEOUT_S, unfinished: str = "marked") -> Verifier:
    """A rules-only `Verifier` per setting, started once per process and closed at exit."""
    with _shared_lock:
        key = (timeout_s, unfinished)
        if key not in _shared:
            _shared[key] = Verifier(timeout_s=timeout_s, unfinished=unfinished)
            atexit.register(_shared[key].close)
        return _shared[key]


def verify_rules(item: VerifyItem, timeout_s: float = DEFAULT_TIMEOUT_S, unfinished: str = "marked") -> Verdict:
    """One item through the rules, no judge: `Verifier.score` on a shared verifier, so a single
    check is bounded exactly like a batch (math-verify only in killable workers)."""
    return shared_verifier(timeout_s, unfinished).score([item])[0]
