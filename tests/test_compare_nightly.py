"""`harness nightly` on existing runs: report, comparison files, and the job's exit status."""

from __future__ import annotations

import argparse
import re

from harness.cli import nightly as cli_nightly
from tests.runfixtures import RunSpec, make_items, random_outcomes, write_run


def nightly(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli_nightly.configure(parser)
    return cli_nightly.main(parser.parse_args(argv))


def runs(tmp_path, lose_every: int | None):
    items = make_items("sample", 150)
    base = random_outcomes(items, 1, 0.7, seed=4)
    new = {k: [v[0] and (lose_every is None or i % lose_every != 0)] for i, (k, v) in enumerate(base.items())}
    return (write_run(tmp_path / "base", RunSpec(items=items, outcomes=base, samples=1)),
            write_run(tmp_path / "new", RunSpec(items=items, outcomes=new, samples=1)))


def test_nightly_writes_report_and_comparison_and_passes_without_regression(tmp_path):
    base, new = runs(tmp_path, None)
    assert nightly(["--baseline", str(base), "--out", str(new)]) == 0
    for name in ("report.html", "compare.md", "compare.html"):
        assert (new / name).stat().st_size > 0
    page = (new / "report.html").read_text()
    # The header lists the run directories it shows, and each run gets its own section.
    assert re.search(r"2 runs:\s*<code>base</code>, <code>new</code></p>", page)
    assert '<section id="run-2" class="run">' in page and '<section id="run-3"' not in page


def test_nightly_fails_the_job_on_a_regression(tmp_path):
    base, new = runs(tmp_path, 2)
    assert nightly(["--baseline", str(base), "--out", str(new)]) == 1
    markdown = (new / "compare.md").read_text()
    assert "REGRESSION in: sample" in markdown and "| p (raw) | p (Holm) |" in markdown
    assert "<th>p (raw)</th><th>p (Holm)</th>" in (new / "compare.html").read_text()


def test_nightly_reports_a_failed_run_with_its_own_status(tmp_path):
    base, _ = runs(tmp_path, None)
    assert nightly(["--baseline", str(base), "--out", str(tmp_path / "x"), "--", "--no-such-flag"]) == cli_nightly.RUN_FAILED
