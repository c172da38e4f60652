"""The verifier: rules for every item, math-verify in isolated workers, then the judge by policy.

One `Verifier` serves `harness run`, `harness score` and the trainer's reward, so evaluation and
RL can never disagree about what is correct. Every verdict keeps both stages' opinions
(`rule_correct`, `judge_correct`) and names the stage that decided (`method`).
"""

from __future__ import annotations

import re
import signal
import sys
import threading
from importlib import metadata

from harness.types import Verdict
from harness.verify.items import JudgeConfig, VerifyItem, normalize_choices
from harness.verify.judge import Judge, JudgeRequest
from harness.verify.rules import RuleOutcome, rule_stage
from harness.verify.symbolic import MAX_EXPRESSION_CHARS, SymbolicPool, SymbolicResult
from harness.verify.symbolic_worker import compare_latex, quiet_math_verify

RULES_VERSION = "2"  # 2: the exact algebra fast path before math-verify
_SYMBOLIC_CACHE_SIZE = 100_000


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _apply_symbolic(outcome: RuleOutcome, result: SymbolicResult) -> None:
    if result.status == "ok":
        outcome.correct, outcome.method, outcome.decisive = bool(result.equal), "math_verify", True
    else:
        method = {"timeout": "timeout", "too_long": "too_long"}.get(result.status, "symbolic_error")
        outcome.correct, outcome.method, outcome.decisive = None, method, False
    outcome.symbolic = None


class Verifier:
    """Scores items; owns the math-verify worker pool and, when configured, the judge client."""

    def __init__(self, judge: JudgeConfig | None = None, timeout_s: float = 5.0, workers: int = 2,
                 memory_mb: int = 2048, fast_path: bool = True) -> None:
        self.judge_config = judge
        self.policy = judge.policy if judge else "never"
        self.timeout_s = timeout_s
        self.fast_path = fast_path  # off only to measure it: verdicts are the same either way
        self._judge = Judge(judge) if judge is not None and judge.policy != "never" else None
        self._pool = SymbolicPool(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb)
        self._symbolic_cache: dict[tuple[str, str, int], SymbolicResult] = {}
        self._lock = threading.Lock()

    def score(self, items: list[VerifyItem], progress: bool = False) -> list[Verdict]:
        """One verdict per item, in input order."""
        with self._lock:
            outcomes = [rule_stage(item, self.fast_path) for item in items]
            self._run_symbolic(outcomes, progress)
            judged = self._run_judge(items, outcomes, progress)
            return [self._combine(o, judged.get(i)) for i, o in enumerate(outcomes)]

    def _run_symbolic(self, outcomes: list[RuleOutcome], progress: bool) -> None:
        waiting: dict[tuple[str, str, int], list[RuleOutcome]] = {}
        for o in outcomes:
            if o.symbolic:
                waiting.setdefault(o.symbolic, []).append(o)
        wanted = [pair for pair in waiting if pair not in self._symbolic_cache]
        if wanted and progress:
            print(f"[verify] math-verify: {len(wanted)} comparisons", file=sys.stderr)
        fresh = dict(zip(wanted, self._pool.compare(wanted))) if wanted else {}
        for pair, result in fresh.items():
            if result.status in ("ok", "too_long"):  # timeouts and errors are retried next time
                if len(self._symbolic_cache) >= _SYMBOLIC_CACHE_SIZE:
                    self._symbolic_cache.clear()
                self._symbolic_cache[pair] = result
        for pair, group in waiting.items():
            result = fresh.get(pair) or self._symbolic_cache[pair]
            for o in group:
                _apply_symbolic(o, result)

    def _needs_judge(self, outcome: RuleOutcome) -> bool:
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
            "symbolic_timeout_s": self.timeout_s,
            "math_verify": _package_version("math-verify"),
        }
        return judge

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


# ------------------------------------------------------------------ in-process rules

# Shapes that make sympy compute without bound (power towers, huge exponents or factorials,
# enormous literals). The in-process path refuses them outright; the worker pool needs no list.
_EXPLOSIVE = re.compile(
    r"\^\s*\{[^{}]*\^|\^\s*\{?\s*[-+]?\d{4,}|\d{300,}|\d{4,}\s*!|!\s*!|\*\*|\\underbrace|\\overbrace"
)


class _Alarm(Exception):
    pass


def _symbolic_in_process(gold: str, pred: str, float_rounding: int, timeout_s: float) -> SymbolicResult:
    if len(gold) > MAX_EXPRESSION_CHARS or len(pred) > MAX_EXPRESSION_CHARS:
        return SymbolicResult("too_long")
    if _EXPLOSIVE.search(pred) or _EXPLOSIVE.search(gold):
        return SymbolicResult("timeout", None, "refused: expression could run without bound")
    quiet_math_verify()
    on_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if on_main:
        def handler(signum, frame):
            raise _Alarm()

        previous = signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return SymbolicResult("ok", compare_latex(gold, pred, float_rounding))
    except _Alarm:
        return SymbolicResult("timeout", None, f"over {timeout_s:g} s")
    except Exception as exc:
        return SymbolicResult("error", None, f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        if on_main:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def verify_rules(item: VerifyItem, timeout_s: float = 5.0) -> Verdict:
    """Rules only, in this process: no pool, no judge. For quick paths and tests.

    Symbolic comparisons run here under a SIGALRM timer (main thread only) after refusing
    expressions known to run without bound; that is a best effort. Scoring untrusted output at
    scale belongs to `Verifier`, whose workers are killed at their deadline.
    """
    outcome = rule_stage(item)
    if outcome.symbolic:
        _apply_symbolic(outcome, _symbolic_in_process(*outcome.symbolic, timeout_s))
    return Verdict(outcome.extracted, outcome.correct, outcome.method, outcome.format_ok,
                   rule_correct=outcome.correct)
