"""Torn tails: a generations.jsonl whose last line a kill cut off -- even inside a multi-byte character -- is
read without it, and the next append repairs the file; a last line that is whole but lacks its newline is
finished work, kept by the reader and by the next append alike."""

from __future__ import annotations

import json

from failure_fixtures import run_tiny

from harness.cli import main as cli_main
from harness.rundir import JsonlAppender, RunDir, read_jsonl


def test_a_line_torn_inside_a_multibyte_character_is_dropped_and_the_next_run_repairs_it(
        tiny_text_dir, hf_text_engine, tmp_path, capsys):
    out = run_tiny(tiny_text_dir, hf_text_engine, tmp_path / "run")
    path = out / "generations.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    last = json.loads(lines[-1])
    torn_key = (last["benchmark"], last["id"], last["sample_index"])
    whole = json.dumps({**last, "text": "答案是 \\boxed{3}"}, ensure_ascii=False).encode()
    cut = whole.index("答".encode()) + 2  # two of the character's three bytes
    path.write_bytes(b"".join(lines[:-1]) + whole[:cut])

    assert torn_key not in RunDir(out).generations()
    assert len(RunDir(out).generations()) == len(lines) - 1
    assert cli_main(["score", str(out)]) == 0
    assert cli_main(["report", str(out)]) == 0
    capsys.readouterr()

    run_tiny(tiny_text_dir, hf_text_engine, out)
    repaired = path.read_bytes()
    assert repaired.startswith(b"".join(lines[:-1])) and repaired.endswith(b"\n")
    rows = [json.loads(line) for line in repaired.decode("utf-8").splitlines()]
    keys = [(row["benchmark"], row["id"], row["sample_index"]) for row in rows]
    assert len(keys) == len(set(keys)) == len(lines), "the torn generation is generated again, once"
    assert torn_key in keys


def test_a_whole_last_line_without_its_newline_is_kept_by_the_reader_and_by_the_next_append(tmp_path):
    path = tmp_path / "generations.jsonl"
    path.write_text('{"n": 1}\n{"n": 2, "text": "答"}', encoding="utf-8")
    assert [row["n"] for row in read_jsonl(path)] == [1, 2]
    with JsonlAppender(path) as appender:
        appender.append({"n": 3})
    assert path.read_text(encoding="utf-8") == '{"n": 1}\n{"n": 2, "text": "答"}\n{"n": 3}\n'
    assert [row["n"] for row in read_jsonl(path)] == [1, 2, 3]
