"""Parity on the checked-in corpus: our rewrites against the peers' own code, and the peers against ours.

    python perf/parity_agreement.py [--json OUT.json]

For each peer this prints (1) how many of the corpus's responses our rewrite of the peer's rules
scores exactly as the peer's own code does (verdict and extraction; VLMEvalKit and lmms-eval run
from their pinned virtual environments, tests/peer_envs.py; the R1V3 rules have no package to run),
and (2) the peer's accuracy beside ours (the harness's Verifier) and how many items differ from our
verdict, by reason. The corpus is tests/parity_corpus.py. Not a timing: it counts verdicts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from harness.cli.score import read_predictions  # noqa: E402
from harness.verify import Verifier  # noqa: E402
from harness.verify.parity import (PEERS, PeerOptions, from_predictions, run_parity,  # noqa: E402
                                   lmms_eval, vlmevalkit)
from parity_corpus import build_corpus  # noqa: E402
from peer_envs import disagreements, peer_rows, run_peer  # noqa: E402

REWRITES = {"vlmevalkit": (vlmevalkit, ()), "lmms-eval": (lmms_eval, ("0",))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in build_corpus()), encoding="utf-8")
        rows, verify_items = read_predictions(str(path))
        with Verifier() as verifier:
            verdicts = verifier.score(verify_items)
        data = from_predictions(rows, verify_items, verdicts, str(path))
    options = PeerOptions()
    figures: dict[str, dict] = {}
    for peer, report in zip(PEERS, run_parity(data, list(PEERS), options)):
        entry: dict = {"items": report.items}
        if peer in REWRITES:
            module, driver_args = REWRITES[peer]
            rewrite = module.score(data.items, options)
            theirs = run_peer(peer, peer_rows(peer, data.items), *driver_args)
            entry["agreeing_with_own_code"] = report.items - len(disagreements(peer, data.items, rewrite, theirs))
        entry.update(ours_accuracy=round(report.ours_accuracy, 1), peer_accuracy=round(report.peer_accuracy, 1),
                     verdicts_equal_to_ours=report.agree, differ_from_ours=len(report.differences),
                     by_reason=report.by_reason, random_draws=report.random_draws)
        figures[peer] = entry
        own = (f"{entry['agreeing_with_own_code']}/{report.items} agree with the peer's own code"
               if "agreeing_with_own_code" in entry else "no package to run (rules from the released script)")
        print(f"{peer}: {own}")
        print(f"  accuracy: ours {entry['ours_accuracy']}%  {peer} {entry['peer_accuracy']}%; "
              f"{report.agree} verdicts equal to ours, {len(report.differences)} differ"
              + (f"; {report.random_draws} random draws" if report.random_draws else ""))
        for reason, count in report.by_reason.items():
            print(f"    {count:4d}  {reason}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if all(e.get("agreeing_with_own_code", e["items"]) == e["items"] for e in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
