"""Our equivalence layer against math-verify's own test cases (target: >= 99.5% agreement, or every
remaining disagreement a documented, deliberate choice).

    pip download --no-deps --no-binary :all: math-verify==0.9.0 -d mv-sdist
    tar xzf mv-sdist/math_verify-0.9.0.tar.gz -C mv-sdist
    python perf/mathverify_agreement.py mv-sdist/math_verify-0.9.0

math-verify's sdist ships pytest files whose cases are `(gold, prediction, expected)` triples fed
to its `compare_strings` helper. This script imports those files from the given directory (their
code is not part of this repository), reads the parametrize marks, and asks our `Verifier` the
same question: is the response `prediction` correct for the gold answer `gold` (answer type
`math`, no thinking tags, the case's `precision` as the item's)? It prints the agreement and every
disagreement with our verdict's method, so each can be explained.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.verify import Verifier, VerifyItem  # noqa: E402


def collect_cases(root: Path) -> list[dict]:
    """(gold, pred, expected) cases from every parametrized test that goes through compare_strings."""
    sys.path.insert(0, str(root))
    cases = []
    for path in sorted((root / "tests").glob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        module = importlib.import_module(f"tests.{path.stem}")
        for name in dir(module):
            func = getattr(module, name)
            if not name.startswith("test_") or not callable(func):
                continue
            body = source[source.find(f"def {name}("):]
            body = body[: body.find("\ndef ", 1) if "\ndef " in body[1:] else len(body)]
            if "compare_strings(" not in body:
                continue
            for mark in getattr(func, "pytestmark", []):
                if mark.name != "parametrize":
                    continue
                names = [n.strip() for n in mark.args[0].split(",")] if isinstance(mark.args[0], str) else list(mark.args[0])
                for values in mark.args[1]:
                    values = getattr(values, "values", values)
                    case = dict(zip(names, values))
                    if {"gold", "pred", "expected"} <= case.keys():
                        case["expected"] = bool(case["expected"])
                        case["test"] = f"{path.name}::{name}"
                        cases.append(case)
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sdist", type=Path, help="the unpacked math-verify sdist (contains tests/)")
    parser.add_argument("--json", type=Path, default=None, help="also write every case and verdict here")
    args = parser.parse_args()
    cases = collect_cases(args.sdist)
    # A case's `precision` is the decimals math-verify rounds to: the item's stated precision here.
    items = [VerifyItem(id=str(i), question="", answer=c["gold"], response=c["pred"], answer_type="math",
                        thinking=False, precision=c.get("precision")) for i, c in enumerate(cases)]
    with Verifier(timeout_s=10.0) as verifier:
        verdicts = verifier.score(items)
    # The exact algebra fast path must not change a single verdict: score again without it.
    with Verifier(timeout_s=10.0, fast_path=False) as verifier:
        without = verifier.score(items)
    changed = [(c, a, b) for c, a, b in zip(cases, verdicts, without) if a.correct != b.correct]
    print(f"fast path: decided {sum(v.method == 'algebra' for v in verdicts)} cases; verdicts changed "
          f"versus math-verify alone: {len(changed)}")
    for case, a, b in changed:
        print(f"- CHANGED {case['test']} gold={case['gold']!r} pred={case['pred'][-80:]!r} "
              f"fast={a.correct} math-verify={b.correct}")
    disagreements = []
    for case, verdict in zip(cases, verdicts):
        ours = verdict.correct is True
        if ours != case["expected"]:
            disagreements.append((case, verdict))
    agree = len(cases) - len(disagreements)
    print(f"math-verify test cases: {len(cases)}; agreement {agree}/{len(cases)} = {100 * agree / len(cases):.1f}%")
    for case, verdict in disagreements:
        extra = {k: v for k, v in case.items() if k not in ("gold", "pred", "expected", "test")}
        print(f"- {case['test']} expected={case['expected']} ours={verdict.correct} method={verdict.method} "
              f"extracted={verdict.extracted!r} {extra or ''}\n    gold={case['gold']!r}\n    pred={case['pred'][-160:]!r}")
    if args.json:
        args.json.write_text(json.dumps([{**c, "ours": v.to_json()} for c, v in zip(cases, verdicts)], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
