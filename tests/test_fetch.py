"""`harness data fetch` against a real HTTP server on 127.0.0.1 serving a benchmark file.

The server (http.server in a thread) serves a VLMEvalKit-format TSV correctly, corrupted, cut off
mid-transfer, or not at all; the tests hold fetch to its promises: verified before it is placed,
expected and actual checksums named on a mismatch, and never a partial file where a good one goes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from bench_fixtures import mcq_row, write_tsv
from harness.cli import build_parser
from harness.bench.spec import parse_spec
from harness.bench.loaders import DataError, load_samples
from harness.bench.fetch import ChecksumMismatch, FetchError, fetch_benchmark
from loopback import QuietHandler, serving


class _Handler(QuietHandler):
    routes: dict[str, tuple[str, bytes]] = {}
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.hits.append(self.path)
        mode, body = self.routes.get(self.path, ("missing", b""))
        if mode == "missing":
            self.send_error(404, "Not Found")
            return
        if mode == "truncate":  # headers promise the whole file, half of it comes
            self.send_response(200)
            self.send_header("Content-Type", "text/tab-separated-values")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.reply(200, body, "text/tab-separated-values")


@pytest.fixture
def server():
    _Handler.routes = {}
    _Handler.hits = []
    with serving(_Handler) as httpd:
        yield _Handler, httpd.url


@pytest.fixture
def tsv_bytes(tmp_path) -> bytes:
    path = write_tsv(tmp_path / "source" / "Tiny.tsv", [
        mcq_row(1, "Which colour?", ["red", "blue"], "A", category="colour"),
        mcq_row(2, "Which shape?", ["circle", "square"], "B", category="shape"),
    ])
    return path.read_bytes()


def tiny_spec(url: str | None, payload: bytes, **source) -> object:
    data = {
        "name": "tiny",
        "source": {"format": "tsv", "file": "Tiny.tsv", "md5": hashlib.md5(payload).hexdigest(), **source},
        "columns": {"images": ["image"], "choices": ["A", "B"], "subject": "category"},
        "answer_type": "mcq",
    }
    if url:
        data["source"]["url"] = url
    return parse_spec(data)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_fetch_downloads_verifies_and_places_the_file(server, tsv_bytes, tmp_path):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", tsv_bytes)
    data_dir = tmp_path / "data"
    spec = tiny_spec(f"{base}/Tiny.tsv", tsv_bytes)

    result = fetch_benchmark(spec, data_dir)

    assert (result.status, result.verified, result.algorithm) == ("downloaded", True, "md5")
    assert (data_dir / "Tiny.tsv").read_bytes() == tsv_bytes
    assert leftovers(data_dir) == ["Tiny.tsv"]
    assert [s.answer for s in load_samples(spec, data_dir)] == ["A", "B"]


def test_fetch_rejects_a_corrupted_download_naming_expected_and_actual(server, tsv_bytes, tmp_path):
    handler, base = server
    corrupted = tsv_bytes.replace(b"Which colour?", b"Which colonr?")
    handler.routes["/Tiny.tsv"] = ("ok", corrupted)
    data_dir = tmp_path / "data"

    with pytest.raises(ChecksumMismatch) as caught:
        fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), data_dir)

    assert caught.value.expected == hashlib.md5(tsv_bytes).hexdigest()
    assert caught.value.actual == hashlib.md5(corrupted).hexdigest()
    assert caught.value.expected in str(caught.value) and caught.value.actual in str(caught.value)
    assert leftovers(data_dir) == []


def test_a_corrupted_forced_download_leaves_the_good_file_in_place(server, tsv_bytes, tmp_path):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", b"garbage\tgarbage\n")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "Tiny.tsv").write_bytes(tsv_bytes)

    with pytest.raises(ChecksumMismatch):
        fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), data_dir, force=True)

    assert (data_dir / "Tiny.tsv").read_bytes() == tsv_bytes
    assert leftovers(data_dir) == ["Tiny.tsv"]


def test_an_interrupted_download_leaves_no_partial_file(server, tsv_bytes, tmp_path):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("truncate", tsv_bytes)
    data_dir = tmp_path / "data"

    with pytest.raises(FetchError) as caught:
        fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), data_dir, timeout_s=10)

    assert "interrupted: received" in str(caught.value)
    assert leftovers(data_dir) == []


def test_a_file_already_in_place_is_verified_without_downloading(server, tsv_bytes, tmp_path):
    handler, base = server
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "Tiny.tsv").write_bytes(tsv_bytes)

    result = fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), data_dir)

    assert (result.status, result.verified) == ("present", True)
    assert handler.hits == []


def test_a_mismatching_file_in_place_is_reported_and_left_alone(server, tsv_bytes, tmp_path):
    _, base = server
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "Tiny.tsv").write_bytes(b"someone's own export\n")

    with pytest.raises(ChecksumMismatch) as caught:
        fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), data_dir)

    assert "--force" in str(caught.value)
    assert (data_dir / "Tiny.tsv").read_bytes() == b"someone's own export\n"


def test_an_http_error_explains_how_to_place_the_file_by_hand(server, tsv_bytes, tmp_path):
    _, base = server
    data_dir = tmp_path / "data"

    with pytest.raises(FetchError) as caught:
        fetch_benchmark(tiny_spec(f"{base}/gone.tsv", tsv_bytes), data_dir)

    message = str(caught.value)
    assert "HTTP 404" in message and str(data_dir / "Tiny.tsv") in message
    assert leftovers(data_dir) == []


def test_no_network_explains_how_to_place_the_file_by_hand(tsv_bytes, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nothing listens on: connection refused, as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch_benchmark(tiny_spec(f"http://127.0.0.1:{port}/Tiny.tsv", tsv_bytes), tmp_path / "data", timeout_s=5)

    assert "place the file at" in str(caught.value) and "md5" in str(caught.value)


def test_a_source_without_url_says_where_to_put_the_export(tsv_bytes, tmp_path):
    spec = tiny_spec(None, tsv_bytes, hf_dataset="someone/tiny (test)")

    with pytest.raises(FetchError) as caught:
        fetch_benchmark(spec, tmp_path / "data")

    message = str(caught.value)
    assert str(tmp_path / "data" / "Tiny.tsv") in message and "someone/tiny (test)" in message


def test_loading_missing_data_names_the_fetch_command(tsv_bytes, tmp_path):
    spec = tiny_spec("http://127.0.0.1:9/Tiny.tsv", tsv_bytes)

    with pytest.raises(DataError) as caught:
        load_samples(spec, tmp_path / "data")

    assert f"harness data fetch tiny --data-dir {tmp_path / 'data'}" in str(caught.value)


def _cli(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_fetch_exit_status_follows_verification(server, tsv_bytes, tmp_path, capsys):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", tsv_bytes)
    definition = tmp_path / "tiny.yaml"
    spec_data = {"name": "tiny", "source": {"format": "tsv", "file": "Tiny.tsv", "url": f"{base}/Tiny.tsv",
                                            "md5": hashlib.md5(tsv_bytes).hexdigest()}}
    definition.write_text(yaml.safe_dump(spec_data))

    assert _cli(["data", "fetch", str(definition), "--data-dir", str(tmp_path / "good")]) == 0
    assert "verified" in capsys.readouterr().out

    spec_data["source"]["md5"] = "0" * 32
    definition.write_text(yaml.safe_dump(spec_data))
    assert _cli(["data", "fetch", str(definition), "--data-dir", str(tmp_path / "bad")]) == 1
    assert "expected md5 " + "0" * 32 in capsys.readouterr().err


def test_cli_fetch_rejects_an_unknown_benchmark(capsys):
    assert _cli(["data", "fetch", "no_such_bench"]) == 2
    assert "unknown benchmark 'no_such_bench'" in capsys.readouterr().err


@pytest.mark.parametrize("file", ["../../escaped.tsv", "ABSOLUTE"])
def test_cli_fetch_refuses_a_definition_whose_file_leaves_the_data_dir(server, tsv_bytes, tmp_path, capsys, file):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", tsv_bytes)
    target = str(tmp_path / "escaped.tsv") if file == "ABSOLUTE" else file
    definition = tmp_path / "tiny.yaml"
    definition.write_text(yaml.safe_dump({"name": "tiny", "source": {
        "format": "tsv", "file": target, "url": f"{base}/Tiny.tsv", "md5": hashlib.md5(tsv_bytes).hexdigest()}}))

    status = _cli(["data", "fetch", str(definition), "--data-dir", str(tmp_path / "data" / "bench")])

    message = capsys.readouterr().err.strip()
    assert status == 2 and len(message.splitlines()) == 1
    assert str(definition) in message and "inside the data directory" in message
    assert handler.hits == [] and not (tmp_path / "escaped.tsv").exists()


def test_cli_fetch_refuses_a_checksum_yaml_reads_as_a_number(server, tsv_bytes, tmp_path, capsys):
    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", tsv_bytes)
    definition = tmp_path / "tiny.yaml"
    definition.write_text(f"name: tiny\nsource:\n  format: tsv\n  file: Tiny.tsv\n  url: {base}/Tiny.tsv\n"
                          f"  sha256: {'7' * 64}\n")

    status = _cli(["data", "fetch", str(definition), "--data-dir", str(tmp_path / "data")])

    message = capsys.readouterr().err
    assert status == 2 and str(definition) in message and "source.sha256 must be text (quote it)" in message
    assert handler.hits == [] and leftovers(tmp_path / "data") == []


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_a_downloaded_file_gets_the_permissions_the_umask_gives(server, tsv_bytes, tmp_path, umask, mode):
    import os
    import stat

    handler, base = server
    handler.routes["/Tiny.tsv"] = ("ok", tsv_bytes)
    previous = os.umask(umask)
    try:
        result = fetch_benchmark(tiny_spec(f"{base}/Tiny.tsv", tsv_bytes), tmp_path / "data")
    finally:
        os.umask(previous)

    assert stat.S_IMODE((tmp_path / "data" / "Tiny.tsv").stat().st_mode) == mode
    assert result.verified
