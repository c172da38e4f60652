"""A NoWait run's ban set in the report: its rule, its size and every banned token, whitespace made visible.

The ban sets here are built from the default model's real vocabulary (SmolLM2) and written into the
manifest by `BanSet.manifest`, exactly as `harness run` records them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest

from harness.cli import report as cli_report
from harness.modes import KEYWORD_PRESETS, UNRECORDED_BAN_RULE, BanSet, build_ban_set, read_ban_manifest
from harness.report.render import visible_whitespace
from harness.report.report import BAN_TOKENS_SHOWN, build_report
from harness.rundir import RunDirError, load_run
from tests.runfixtures import RunSpec, make_items, random_outcomes, write_run
from tests.test_report_html import PAYLOAD, StartTags


def nowait_run(root: Path, **overrides) -> Path:
    items = make_items("sample", 4)
    return write_run(root, RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1, mode="nowait",
                                   ban_keywords=["wait"], **overrides))


def with_ban(run_dir: Path, ban: BanSet) -> Path:
    """Replace the run's ban block by what `harness run` records for `ban`."""
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["ban"] = ban.manifest()
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    return run_dir


def ban_section(html: str) -> str:
    start = html.index("<h3>NoWait ban set</h3>")
    return html[start:html.index("<h3>", start + 1)]


def test_a_nowait_run_lists_its_rule_size_and_tokens_with_a_leading_space_marked(tmp_path, smollm2_tokenizer):
    ban = build_ban_set(smollm2_tokenizer, KEYWORD_PRESETS["paper"], rule="word")
    assert 0 < ban.size <= BAN_TOKENS_SHOWN  # short enough to be listed openly
    section = ban_section(build_report([with_ban(nowait_run(tmp_path / "run"), ban)]))
    assert f"{ban.size} tokens banned by the <b>word</b> rule" in section
    assert "<details" not in section
    listed = re.findall(r'<code class="token">(.*?)</code>', section)
    assert len(listed) == ban.size
    assert listed == [str(visible_whitespace(token)) for token in ban.tokens]
    assert '<span class="ws" title="space">␣</span>Wait' in listed and "Wait" in listed


def test_a_long_ban_set_is_folded_behind_details(tmp_path, smollm2_tokenizer):
    ban = build_ban_set(smollm2_tokenizer, KEYWORD_PRESETS["nowait17"], rule="substring")
    assert ban.size > BAN_TOKENS_SHOWN
    section = ban_section(build_report([with_ban(nowait_run(tmp_path / "run"), ban)]))
    assert "banned by the <b>substring</b> rule" in section
    folded = section[section.index('<details class="ban-tokens">'):section.index("</details>")]
    assert f"the {ban.size} banned tokens" in folded
    assert len(re.findall(r'<code class="token">', folded)) == ban.size


def test_a_run_directory_that_records_no_rule_says_it_was_banned_by_substring(tmp_path):
    section = ban_section(build_report([nowait_run(tmp_path / "run", ban_rule=None, ban_tokens=[" Wait", " await"])]))
    assert "banned by the <b>substring</b> rule" in section
    assert "does not record its ban rule" in section and "banned by substring" in section


def test_residuals_of_a_run_that_records_no_rule_are_counted_by_substring(tmp_path):
    text = lambda item, s, c, m: "Wait, hmm. Await the answer. Wait.</think>\\boxed{A}"
    run = load_run(nowait_run(tmp_path / "run", ban_rule=None, text=text))
    assert run.ban.rule == UNRECORDED_BAN_RULE == "substring" and not run.ban.rule_recorded
    html = build_report([run.path])
    residuals = html[html.index("Residual banned keywords"):]
    assert "(substring rule, case-insensitive)" in residuals
    assert re.search(r'<td>sample</td><td class="bad">12</td>', residuals)  # 3 per response x 4 responses


def test_banned_tokens_are_escaped_and_invisible_characters_shown(tmp_path):
    tokens = [PAYLOAD, "\n\nWait", "\u00a0wait", "wait\t"]
    html = build_report([nowait_run(tmp_path / "run", ban_tokens=tokens)])
    tags = StartTags()
    tags.feed(html)
    assert [t for t, _ in tags.seen if t == "script"] == ["script"] * 4  # our own four, nothing from a token
    assert "img" not in {t for t, _ in tags.seen}
    section = ban_section(html)
    assert "&lt;script&gt;window.__pwned" in section and "&lt;/script&gt;&lt;img" in section
    assert '<span class="ws" title="line break">↵</span><span class="ws" title="line break">↵</span>Wait' in section
    assert '<span class="ws" title="U+00A0">U+00A0</span>wait' in section
    assert 'wait<span class="ws" title="tab">⇥</span>' in section


def test_a_manifest_without_tokens_says_so(tmp_path):
    section = ban_section(build_report([nowait_run(tmp_path / "run")]))
    assert "does not list the banned tokens" in section


def test_runs_in_other_modes_show_no_ban_set(tmp_path):
    items = make_items("sample", 4)
    run_dir = write_run(tmp_path / "run", RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1,
                                                  ban_keywords=["wait"], ban_tokens=[" Wait"]))
    assert "NoWait ban set" not in build_report([run_dir])


def test_a_recorded_ban_set_reads_back_as_written(smollm2_tokenizer):
    ban = build_ban_set(smollm2_tokenizer, ["wait"], exclude=["await"], rule="word")
    recorded = read_ban_manifest(ban.manifest())
    assert (recorded.keywords, recorded.excluded, recorded.rule, recorded.size, recorded.sha256, recorded.tokens) == (
        ban.keywords, ban.excluded, "word", ban.size, ban.sha256, ban.tokens)
    assert recorded.rule_recorded


@pytest.mark.parametrize("block, field", [
    ({"rule": "fuzzy"}, "ban.rule: 'fuzzy' is not one of word, substring"),
    ({"tokens": [" Wait", 3]}, "ban.tokens: expected a list of strings"),
    ({"size": -1}, "ban.size: expected a count"),
    (["wait"], "ban: expected an object"),
])
def test_a_malformed_ban_block_is_refused_naming_the_manifest_and_field(tmp_path, capsys, block, field):
    run_dir = nowait_run(tmp_path / "run")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["ban"] = block
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunDirError, match=re.escape(f"manifest.json: {field}")):
        load_run(run_dir)
    parser = argparse.ArgumentParser()
    cli_report.configure(parser)
    assert cli_report.main(parser.parse_args([str(run_dir)])) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and field in error


def test_visible_whitespace_marks_spaces_apart_from_a_literal_mark():
    assert str(visible_whitespace(" ␣")) == '<span class="ws" title="space">␣</span>␣'
    assert str(visible_whitespace("<b>")) == "&lt;b&gt;"
