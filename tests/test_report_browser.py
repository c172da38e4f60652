"""Generated pages in a real headless Chromium: nothing fetched, nothing logged, nothing injected runs.

Set HARNESS_SCREENSHOT_DIR to keep screenshots of what the browser rendered, for a person to look at.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.metrics.compare import compare_runs
from harness.report.compare import to_html
from harness.report.leaderboard import build_leaderboard, load_reference
from harness.report.leaderboard import to_html as leaderboard_html
from harness.report.report import write_report
from harness.rundir import load_run
from tests.browser import chromium
from tests.runfixtures import RunSpec, make_items, write_run
from tests.test_report_modes import three_mode_sweep

PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference" / "r1v3_table1.yaml"


@pytest.fixture(scope="module")
def browser():
    with chromium() as instance:
        yield instance


def shoot(browser, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("HARNESS_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    browser.screenshot(folder / f"{name}.png")


def wait_for(browser, script: str, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.run(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def hostile_run(root: Path) -> Path:
    items = make_items("sample", 60)
    items[0]["question"] = PAYLOAD
    outcomes = {(i["benchmark"], i["id"]): [n % 3 != 0, n % 2 == 0] for n, i in enumerate(items)}
    text = lambda item, sample, correct, mode: f"Thinking {PAYLOAD}</think>Answer {PAYLOAD} \\boxed{{A}}"
    return write_run(root, RunSpec(items=items, outcomes=outcomes, samples=2, text=text,
                                   judged={("sample", items[0]["id"], 0)}))


def test_report_loads_without_errors_or_requests_and_expands_a_row(browser, tmp_path):
    report = write_report([hostile_run(tmp_path / "run")], tmp_path / "report.html")
    browser.open(report)
    assert browser.run("return document.querySelectorAll('#dd-table tbody tr').length") == 50
    browser.run("document.querySelector('button.expand').click()")
    wait_for(browser, "return document.querySelector('tr.detail-row .sample')")
    browser.run("document.querySelector('tr.detail-row details.thinking').open = true")
    assert browser.run("return document.querySelector('tr.detail-row img.thumb').naturalWidth") > 0
    browser.run("document.querySelector('#drilldown').scrollIntoView()")
    shoot(browser, tmp_path, "report-expanded")
    log = browser.log()
    assert log.console_errors == []
    assert log.requests == []


def test_script_and_onerror_payloads_in_a_response_render_as_text(browser, tmp_path):
    report = write_report([hostile_run(tmp_path / "run")], tmp_path / "report.html")
    browser.open(report)
    browser.run("document.querySelector('button.expand').click()")
    wait_for(browser, "return document.querySelector('tr.detail-row .sample')")
    texts = browser.run("return [...document.querySelectorAll('tr.detail-row pre')].map(p => p.textContent)")
    assert f"Thinking {PAYLOAD}" in texts
    assert any(text.startswith(f"Answer {PAYLOAD}") for text in texts)
    assert PAYLOAD in texts  # the question, shown verbatim
    assert browser.run("return window.__pwned === undefined")
    assert browser.run("return document.querySelectorAll('img[src=\"x\"], #drilldown script').length") == 0
    log = browser.log()
    assert log.console_errors == [] and log.requests == []


def test_wrong_only_and_subject_filters_narrow_the_rows(browser, tmp_path):
    report = write_report([hostile_run(tmp_path / "run")], tmp_path / "report.html")
    browser.open(report)
    count = "return document.getElementById('dd-count').textContent"
    assert browser.run(count) == "60 of 60 rows"
    browser.run("const box = document.getElementById('f-wrong'); box.click();")
    # an item has a wrong sample when n % 3 == 0 or n is odd: 40 of 60
    assert browser.run(count) == "40 of 60 rows"
    marks = browser.run("return [...document.querySelectorAll('#dd-table .marks')].map(m => m.textContent)")
    assert all("✗" in m for m in marks)
    browser.run("const s = document.getElementById('f-subject'); s.value = '1'; s.dispatchEvent(new Event('change'))")
    assert browser.run(count) == "30 of 60 rows"  # geometry: the 30 odd n, all with a wrong sample
    subjects = browser.run("return [...document.querySelectorAll('#dd-table tbody tr td:nth-child(5)')].map(t => t.textContent)")
    assert set(subjects) == {"geometry"}
    shoot(browser, tmp_path, "report-filtered")
    assert browser.log().console_errors == []


def test_flipped_filter_finds_items_whose_majority_changed_between_runs(browser, tmp_path):
    items = make_items("sample", 20)
    first = {(i["benchmark"], i["id"]): [True] for i in items}
    second = {(i["benchmark"], i["id"]): [n >= 3] for n, i in enumerate(items)}
    a = write_run(tmp_path / "a", RunSpec(items=items, outcomes=first, samples=1))
    b = write_run(tmp_path / "b", RunSpec(items=items, outcomes=second, samples=1, budget=1024))
    browser.open(write_report([a, b], tmp_path / "report.html"))
    browser.run("document.getElementById('f-flipped').click()")
    # three items flipped: each appears once per run
    assert browser.run("return document.getElementById('dd-count').textContent") == "6 of 40 rows"
    ids = browser.run("return [...document.querySelectorAll('#dd-table tbody td.mono')].map(t => t.textContent)")
    assert sorted(set(ids)) == ["q00000", "q00001", "q00002"]
    browser.run("window.scrollTo(0, 0)")
    shoot(browser, tmp_path, "report-two-runs")
    log = browser.log()
    assert log.console_errors == [] and log.requests == []


def test_a_sweep_report_leads_with_the_modes_table_and_curve_and_lists_each_ban_set(browser, tmp_path):
    browser.open(write_report([three_mode_sweep(tmp_path / "sweep")], tmp_path / "report.html"))
    sections = browser.run("return [...document.querySelectorAll('body > section')].map(s => s.id)")
    assert sections[0] == "modes" and sections[-1] == "drilldown"
    lead = "document.getElementById('modes')"
    assert browser.run(f"return {lead}.querySelectorAll('table tbody tr').length") == 5
    assert browser.run(f"return {lead}.querySelector('figure svg').getBoundingClientRect().width") > 200
    # the lead sits above the first run's section on screen, not only in the source
    assert browser.run(f"return {lead}.getBoundingClientRect().bottom <= "
                       "document.getElementById('run-1').getBoundingClientRect().top")
    tokens = browser.run("return [...document.querySelectorAll('#run-4 code.token')].map(c => c.textContent)")
    assert tokens == ["␣Wait"]
    shoot(browser, tmp_path, "report-sweep")
    log = browser.log()
    assert log.console_errors == [] and log.requests == []


def test_compare_and_leaderboard_pages_load_cleanly(browser, tmp_path):
    items = make_items("sample", 40)
    right = {(i["benchmark"], i["id"]): [True] for i in items}
    half = {(i["benchmark"], i["id"]): [n % 2 == 0] for n, i in enumerate(items)}
    a = load_run(write_run(tmp_path / "a", RunSpec(items=items, outcomes=right, samples=1)))
    b = load_run(write_run(tmp_path / "b", RunSpec(items=items, outcomes=half, samples=1)))
    compare_page = tmp_path / "compare.html"
    compare_page.write_text(to_html(compare_runs(a, b)))
    browser.open(compare_page)
    assert "REGRESSION" in browser.run("return document.body.textContent")
    shoot(browser, tmp_path, "compare")
    log = browser.log()
    assert log.console_errors == [] and log.requests == []
    board_page = tmp_path / "leaderboard.html"
    board_page.write_text(leaderboard_html(build_leaderboard([a], load_reference(REFERENCE))))
    browser.open(board_page)
    assert browser.run("return document.querySelectorAll('td.best').length") >= 16
    shoot(browser, tmp_path, "leaderboard")
    log = browser.log()
    assert log.console_errors == [] and log.requests == []
