"""The HTML report: what it shows, and that untrusted text in a run can never become markup."""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
from html.parser import HTMLParser

import pytest

from harness.cli import report as cli_report
from harness.report.drilldown import build_drilldown, excerpt
from harness.report.report import build_report
from harness.rundir import load_run
from tests.runfixtures import BenchmarkMeta, RunSpec, make_items, random_outcomes, simple_run, write_run

PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


class StartTags(HTMLParser):
    """Every element the HTML parser creates, as (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, attrs))


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli_report.configure(parser)
    return cli_report.main(parser.parse_args(argv))


def test_cli_writes_report_html_into_the_run_directory(tmp_path):
    root = simple_run(tmp_path / "run", n_items=12, samples=2)
    assert run_cli([str(root)]) == 0
    html = (root / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Avg@2" in html


def test_cli_reports_a_broken_run_directory_as_an_error(tmp_path, capsys):
    assert run_cli([str(tmp_path)]) == 2
    assert "manifest.json: missing" in capsys.readouterr().err


def test_summary_shows_accuracy_spread_and_interval_from_scores(tmp_path):
    items = make_items("sample", 4)
    outcomes = {("sample", "q00000"): [True, True], ("sample", "q00001"): [True, False],
                ("sample", "q00002"): [False, False], ("sample", "q00003"): [True, True]}
    html = build_report([write_run(tmp_path / "run", RunSpec(items=items, outcomes=outcomes))])
    # per-sample accuracies 75 and 50: Avg@2 62.5, sample std 17.7
    assert '<td class="acc">62.5</td>' in html
    assert "<td>17.7</td>" in html
    assert "75.0 · 50.0" in html


def test_the_report_shows_the_figures_summary_json_holds(tmp_path):
    from harness.metrics.summary import write_summary

    items = make_items("sample", 30)
    run_dir = write_run(tmp_path / "run", RunSpec(items=items, outcomes=random_outcomes(items, 3, 0.6, seed=2),
                                                  samples=3))
    block = write_summary(run_dir)["benchmarks"]["sample"]
    html = build_report([run_dir])
    row = re.search(r'<td title="sample">.*?</tr>', html, re.S).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[1:4] == [f"{block['accuracy']:.1f}", f"{block['std']:.1f}",
                          f"{block['ci95'][0]:.1f} – {block['ci95'][1]:.1f}"]
    assert cells[4] == " · ".join(f"{value:.1f}" for value in block["per_sample_accuracy"])
    assert cells[5] == str(block["n_items"]) and cells[8:10] == [str(block["undecided"]), str(block["errors"])]


def test_benchmarks_sit_under_their_group_and_unknown_groups_under_other(tmp_path):
    items = make_items("mathvista_mini", 4) + make_items("custom", 4)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1,
                   benchmarks={"mathvista_mini": BenchmarkMeta(title="MathVista (mini)", group="Mathematics")})
    html = build_report([write_run(tmp_path / "run", spec)])
    table = html[html.index("<h3>Accuracy</h3>"):]
    assert table.index(">Mathematics</td>") < table.index("MathVista (mini)") < table.index(">Other</td>")
    assert table.index(">Other</td>") < table.index(">custom</td>")


def test_untrusted_text_never_adds_script_elements_or_handlers(tmp_path):
    items = make_items("sample", 3)
    for item in items:
        item["question"] = PAYLOAD
        item["subject"] = PAYLOAD
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1, model=f"models/{PAYLOAD}",
                   benchmarks={"sample": BenchmarkMeta(title=PAYLOAD)},
                   text=lambda item, sample, correct, mode: f"{PAYLOAD}</think>{PAYLOAD}")
    html = build_report([write_run(tmp_path / "run", spec)])
    tags = StartTags()
    tags.feed(html)
    # exactly our own script elements (three JSON payloads and the page script), no handlers, no images
    assert [t for t, _ in tags.seen if t == "script"] == ["script"] * 4
    assert [(t, a) for t, attrs in tags.seen for a, _ in attrs if a.startswith("on")] == []
    assert "img" not in {t for t, _ in tags.seen}


def test_mode_comparison_and_budget_curve_for_runs_of_one_model(tmp_path):
    dirs = []
    for mode, budget, accuracy in [("slow", 1024, 0.5), ("slow", 4096, 0.7), ("nothink", 1024, 0.4)]:
        items = make_items("sample", 30)
        spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, accuracy, seed=budget), samples=1,
                       mode=mode, budget=budget)
        dirs.append(write_run(tmp_path / f"{mode}-{budget}", spec))
    html = build_report(dirs)
    assert 'id="modes"' in html
    section = html[html.index('id="modes"'):html.index('id="run-1"')]
    assert section.count("<svg") == 1  # one curve: slow over two budgets, nothink as a baseline line
    assert "nothink" in section and ">4096<" in section


def test_a_single_run_has_no_mode_comparison(tmp_path):
    html = build_report([simple_run(tmp_path / "run", n_items=5)])
    assert 'id="modes"' not in html


def test_hallucination_split_counts_phrases_in_the_thinking_only(tmp_path):
    items = make_items("sample", 4)
    outcomes = {(i["benchmark"], i["id"]): [n < 2] for n, i in enumerate(items)}

    def text(item, sample, correct, mode):
        seen = "I can’t see the image, but" if item["id"] in ("q00000", "q00002") else "The figure shows"
        return f"{seen} the sides are 3 and 4.</think>I can't see the image. \\boxed{{A}}"

    run_dir = write_run(tmp_path / "run", RunSpec(items=items, outcomes=outcomes, samples=1, text=text))
    html = build_report([run_dir])
    row = re.search(r"<tr><td>sample</td>(.*?)</tr>", html[html.index("phrase-split"):], re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells == ["4", "50.0", "2", "50.0", "2", "50.0"]


def test_residual_banned_keywords_are_counted_in_outputs(tmp_path):
    items = make_items("sample", 2)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1, ban_keywords=["wait", "hmm"],
                   text=lambda item, s, c, m: "Wait, hmm. Await the answer. Wait.</think>\\boxed{A}")
    html = build_report([write_run(tmp_path / "run", spec)])
    section = html[html.index("Residual banned keywords"):]
    assert re.search(r"<td>sample</td><td class=\"bad\">4</td><td class=\"bad\">2</td>", section)


def test_residuals_of_a_run_banned_by_substring_count_substrings(tmp_path):
    items = make_items("sample", 2)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1, ban_keywords=["wait", "hmm"],
                   ban_rule="substring", text=lambda item, s, c, m: "Wait, hmm. Await the answer. Wait.</think>\\boxed{A}")
    html = build_report([write_run(tmp_path / "run", spec)])
    section = html[html.index("Residual banned keywords"):]
    assert re.search(r"<td>sample</td><td class=\"bad\">6</td><td class=\"bad\">2</td>", section)


def test_drilldown_texts_round_trip_through_compression(tmp_path):
    run = load_run(simple_run(tmp_path / "run", n_items=5, samples=2))
    drilldown = build_drilldown([run])
    details = json.loads(gzip.decompress(base64.b64decode(drilldown.chunks[0])))
    generation = run.generations[("sample", "q00003", 1)]
    thinking, answer = details[3]["samples"][1][:2]
    assert generation.text == f"{thinking}</think>\n{answer}"
    assert drilldown.index["rows"][3][2] == "q00003"


def test_large_runs_are_excerpted_to_the_text_budget_and_say_so(tmp_path):
    long_text = "step " * 2000 + "</think>The answer is \\boxed{A}."
    run_dir = simple_run(tmp_path / "run", n_items=20, samples=2, text=lambda *args: long_text)
    drilldown = build_drilldown([load_run(run_dir)], text_budget_chars=40 * 1000)
    assert drilldown.chars_per_sample == 1000
    assert drilldown.excerpted == 40
    assert "generations.jsonl has them whole" in drilldown.notes[0]
    thinking, answer = json.loads(gzip.decompress(base64.b64decode(drilldown.chunks[0])))[0]["samples"][0][:2]
    assert answer == "The answer is \\boxed{A}."
    assert "characters omitted" in thinking and len(thinking) < 1000


def test_excerpt_keeps_head_and_tail():
    text, cut = excerpt("a" * 50 + "b" * 50, 20)
    assert cut and text.startswith("a" * 8) and text.endswith("b" * 12)
    assert excerpt("short", 20) == ("short", False)


def test_flipped_means_samples_disagree_in_one_run_and_majority_changed_across_runs(tmp_path):
    items = make_items("sample", 3)
    first = {("sample", "q00000"): [True, False], ("sample", "q00001"): [True, True], ("sample", "q00002"): [False, False]}
    second = {("sample", "q00000"): [True, True], ("sample", "q00001"): [False, False], ("sample", "q00002"): [False, False]}
    a = load_run(write_run(tmp_path / "a", RunSpec(items=items, outcomes=first)))
    b = load_run(write_run(tmp_path / "b", RunSpec(items=items, outcomes=second)))
    single = build_drilldown([a]).index["rows"]
    assert [row[7] for row in single] == [1, 0, 0]
    both = build_drilldown([a, b]).index["rows"]
    assert [(row[0], row[2], row[7]) for row in both if row[7]] == [(0, "q00001", 1), (1, "q00001", 1)]


def test_thumbnails_from_the_worker_pool_equal_the_serial_ones_in_order():
    import io

    from PIL import Image

    from harness.report.drilldown import PARALLEL_THUMBNAILS, ThumbnailJob, small_thumbnail

    def jpeg(k: int) -> str:
        buffer = io.BytesIO()
        Image.new("RGB", (128, 96), (k % 256, (k * 7) % 256, (k * 13) % 256)).save(buffer, format="JPEG")
        return base64.b64encode(buffer.getvalue()).decode()

    originals = [jpeg(k) for k in range(PARALLEL_THUMBNAILS + 300)]
    originals[5] = "not base64 of an image"
    originals.append(originals[7])  # a duplicate is encoded once
    with ThumbnailJob(originals) as job:
        index_of, urls = job.result()
    assert index_of[originals[5]] == -1
    expected = [small_thumbnail(o) for o in dict.fromkeys(originals) if o != originals[5]]
    assert urls == expected
    assert [urls[index_of[o]] for o in originals[:4]] == [small_thumbnail(o) for o in originals[:4]]


def test_a_sweep_directory_expands_to_its_runs_and_a_missing_run_is_named(tmp_path):
    from harness.report.report import expand_sweeps
    from harness.rundir import RunDirError

    sweep = tmp_path / "sweep"
    runs = []
    for budget in (4096, 1024):
        items = make_items("sample", 10)
        spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5, seed=budget), samples=1, budget=budget)
        write_run(sweep / f"slow-b{budget}", spec)
        runs.append({"mode": "slow", "budget": budget, "dir": f"slow-b{budget}", "results": {}})
    index = {"modes": ["slow"], "budgets": [1024, 4096], "budget_policy": "cap", "runs": runs,
             "cost": {"engine_generated_tokens": 1234, "ratio_to_largest": 1.0, "ratio_to_independent": 0.6}}
    (sweep / "sweep.json").write_text(json.dumps(index))
    other = simple_run(tmp_path / "other", n_items=5)
    dirs, sweeps = expand_sweeps([sweep, other])
    assert dirs == [sweep / "slow-b1024", sweep / "slow-b4096", other]
    assert sweeps[0]["cost"]["engine_generated_tokens"] == 1234
    html = build_report([sweep])
    assert "1,234 tokens" in html and "0.60&times; one run per budget" in html
    index["runs"].append({"mode": "slow", "budget": 2048, "dir": "slow-b2048", "results": {}})
    (sweep / "sweep.json").write_text(json.dumps(index))
    with pytest.raises(RunDirError, match="not there: slow-b2048"):
        expand_sweeps([sweep])
