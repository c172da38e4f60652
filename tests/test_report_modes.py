"""What thinking buys leads the report: the modes x budgets table and accuracy against budget come first."""

from __future__ import annotations

import re

from harness.report.plots import budget_curve
from harness.report.report import build_report
from tests.runfixtures import RunSpec, make_items, random_outcomes, write_run, write_sweep

UNFINISHED = {"q00000"}  # this item's thought never closes


def thought(item, sample, correct, mode):
    if mode == "nothink":
        return "The answer is \\boxed{A}."
    if item["id"] in UNFINISHED:
        return "Looking at the figure, the sides are 3 and 4, so"
    return "The sides are 3 and 4.</think>The answer is \\boxed{A}."


def spec(outcomes: list[bool], **overrides) -> RunSpec:
    items = make_items("sample", len(outcomes))
    return RunSpec(items=items, outcomes={("sample", i["id"]): [o] for i, o in zip(items, outcomes)}, samples=1,
                   text=thought, **overrides)


def three_mode_sweep(root):
    return write_sweep(root, {
        ("slow", 1024): spec([True, True, True, False]),
        ("slow", 4096): spec([True, True, True, True]),
        ("nothink", 1024): spec([True, False, False, False]),
        ("nowait", 1024): spec([False, True, True, False], ban_keywords=["wait"], ban_tokens=[" Wait"]),
        ("nowait", 4096): spec([True, True, True, False], ban_keywords=["wait"], ban_tokens=[" Wait"]),
    })


def modes_rows(html: str) -> list[list[str]]:
    section = html[html.index('<section id="modes">'):html.index("</section>")]
    rows = re.findall(r"<tr><td>(.*?)</tr>", section, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", f"<td>{row}") for row in rows]


def tick_labels(svg: str, axis: str) -> list[tuple[float, str]]:
    """(position, label) of each tick label on the x or y axis of a matplotlib SVG."""
    coordinate = "x" if axis == "x" else "y"
    return [(float(position), label) for position, label in re.findall(
        rf'<g id="{axis}tick_\d+">.*?<text[^>]* {coordinate}="([-\d.]+)"[^>]*>([^<]*)</text>', svg, re.S)]


def test_a_sweep_report_opens_with_the_modes_and_budgets_section(tmp_path):
    html = build_report([three_mode_sweep(tmp_path / "sweep")])
    sections = re.findall(r'<section id="([^"]+)"', html)
    assert sections[0] == "modes" and sections[1:6] == [f"run-{n}" for n in range(1, 6)]
    nav = html[html.index("<nav>"):html.index("</nav>")]
    assert re.findall(r'href="#([^"]+)"', nav)[0] == "modes"
    lead = html[html.index('<section id="modes">'):html.index('<section id="run-1"')]
    assert "<svg" in lead and "<table" in lead


def test_separate_runs_of_one_model_across_budgets_also_lead_with_the_comparison(tmp_path):
    dirs = [write_run(tmp_path / f"slow-{budget}", spec([True, False], budget=budget)) for budget in (1024, 2048)]
    html = build_report(dirs)
    assert re.findall(r'<section id="([^"]+)"', html)[:3] == ["modes", "run-1", "run-2"]


def test_the_table_shows_avg_finished_share_finished_accuracy_and_tokens_per_mode_and_budget(tmp_path):
    rows = modes_rows(build_report([three_mode_sweep(tmp_path / "sweep")]))
    # paper order (slow, nothink, nowait), budgets ascending; columns: mode, budget, Avg@k, std, finished,
    # Avg@k finished, tokens, think, answer, truncated
    assert [row[:2] for row in rows] == [["slow", "1024"], ["slow", "4096"], ["nothink", "1024"],
                                         ["nowait", "1024"], ["nowait", "4096"]]
    # slow b1024: 3 of 4 right; q00000 never closes its thought (and is right), so 2 of the 3 finished are
    slow = rows[0]
    assert (slow[2], slow[4], slow[5]) == ("75.0", "75.0%", "66.7")
    assert (slow[6], slow[7], slow[8]) == ("49", "40", "9")
    assert rows[2][4] == "–"  # nothink has no thought to finish
    assert (rows[3][2], rows[3][5]) == ("50.0", "66.7")


def test_runs_of_one_model_at_the_same_mode_and_budget_are_not_a_comparison(tmp_path):
    dirs = [write_run(tmp_path / f"seed-{n}", spec([True, n == 0])) for n in range(2)]
    assert 'id="modes"' not in build_report(dirs)


def test_the_budget_axis_is_log2_with_a_tick_labelled_at_each_budget():
    svg = budget_curve({"slow": [(1024, 50.0), (1536, 60.0), (2048, 70.0), (16384, 75.0)]}, {}, "MMMU")
    ticks = tick_labels(svg, "x")
    assert [label for _, label in ticks] == ["1K", "1536", "2K", "16K"]
    (x1k, _), (x1536, _), (x2k, _), (x16k, _) = ticks
    # on a log2 axis each doubling is one equal step, and 1536 sits log2(1.5) = 0.585 of the way from 1K to 2K
    assert abs((x16k - x1k) / (x2k - x1k) - 4.0) < 0.01
    assert abs((x1536 - x1k) / (x2k - x1k) - 0.585) < 0.01


def test_a_budget_axis_spanning_less_than_four_times_is_still_log2():
    ticks = tick_labels(budget_curve({"slow": [(1024, 50.0), (1536, 55.0), (2048, 60.0)]}, {}, "t"), "x")
    (x1k, _), (x1536, _), (x2k, _) = ticks
    assert abs((x1536 - x1k) / (x2k - x1k) - 0.585) < 0.01


def test_the_accuracy_axis_runs_from_0_to_100_whatever_the_accuracies():
    svg = budget_curve({"slow": [(1024, 61.6), (2048, 67.7)]}, {"nothink": 63.0}, "t")
    assert [label for _, label in tick_labels(svg, "y")] == ["0", "20", "40", "60", "80", "100"]


def test_a_sweep_of_one_model_draws_one_curve_per_benchmark_with_every_thinking_mode(tmp_path):
    html = build_report([three_mode_sweep(tmp_path / "sweep")])
    lead = html[html.index('<section id="modes">'):html.index('<section id="run-1"')]
    assert lead.count("<svg") == 1
    curve = lead[lead.index("<svg"):lead.index("</svg>")]
    assert ">slow<" in curve and ">nowait<" in curve and ">nothink 25.0<" in curve  # nothink: one budget, a flat line


def test_each_benchmark_of_runs_of_one_model_gets_its_own_comparison(tmp_path):
    items = make_items("mmmu", 6) + make_items("mathvista", 6)
    dirs = [write_run(tmp_path / f"{mode}-{budget}",
                      RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5, seed=budget), samples=1,
                              mode=mode, budget=budget))
            for mode, budget in [("slow", 1024), ("slow", 2048), ("nothink", 1024)]]
    html = build_report(dirs)
    lead = html[html.index('<section id="modes">'):html.index('<section id="run-1"')]
    assert re.findall(r"<h3>tiny-vlm · (\w+)</h3>", lead) == ["mmmu", "mathvista"]
