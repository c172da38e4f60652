"""What a benchmark definition may not do: escape the prompt sandbox, point outside the data directory,
or carry a checksum that is not a digest. Each is refused when the definition loads, in one line
that names the file, before any data is read or any model loads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.bench.spec import BenchmarkError, get_spec, load_spec_file, parse_spec
from harness.cli import main
from harness.types import Sample


def _definition(tmp_path, **overrides) -> Path:
    data = {"name": "bench", "source": {"format": "tsv", "file": "bench.tsv"}, "answer_type": "text"}
    data["source"].update(overrides.pop("source", {}))
    data.update(overrides)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


ESCAPE = "{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}"


def test_a_prompt_reaching_for_python_internals_is_refused_in_one_line(tmp_path, capsys):
    marker = tmp_path / "ran"
    definition = _definition(tmp_path, prompt=ESCAPE.format(marker=marker))

    status = main(["data", "fetch", str(definition), "--data-dir", str(tmp_path / "data")])

    message = capsys.readouterr().err.strip()
    assert status == 2 and len(message.splitlines()) == 1
    assert str(definition) in message and "reaches for '__globals__'" in message and "sandbox" in message
    assert not marker.exists()


def test_the_sandbox_stops_what_the_load_check_cannot_see(tmp_path):
    marker = tmp_path / "ran"
    # The attribute name is built at render time, so only the sandbox itself can refuse it.
    prompt = ("{{ (cycler|attr('_' ~ '_init__')|attr('_' ~ '_globals__')).os.system('touch " + str(marker)
              + "') }}")
    spec = load_spec_file(_definition(tmp_path, prompt=prompt))

    with pytest.raises(BenchmarkError) as caught:
        spec.render_prompt(Sample(id="1", question="q", answer="a"))

    message = str(caught.value)
    assert str(tmp_path / "bench.yaml") in message and "item '1'" in message
    assert not marker.exists()


def test_a_prompt_cannot_change_the_sample(tmp_path):
    spec = load_spec_file(_definition(tmp_path, prompt="{{ meta.update({'answer': 'x'}) }}{{ question }}"))
    sample = Sample(id="1", question="q", answer="a", meta={})

    with pytest.raises(BenchmarkError, match="unsafe"):
        spec.render_prompt(sample)
    assert sample.meta == {}


def test_every_registered_prompt_renders_in_the_sandbox():
    sample = Sample(id="1", question="q", answer="A", choices={"A": "x", "B": "y"},
                    meta={"hint": "h", "context": "c", "sig_figs": "3"})
    for name in ("mmmu_val", "emma_mini", "mmbench_en_v11", "mathvision", "seephys", "wemath"):
        assert "q" in get_spec(name).render_prompt(sample)


@pytest.mark.parametrize("file", ["../../x.tsv", "/etc/passwd", "sub/../../x.tsv", "C:\\\\data\\\\x.tsv", "..\\\\x.tsv"])
def test_a_data_file_outside_the_data_directory_is_refused(tmp_path, file):
    with pytest.raises(BenchmarkError) as caught:
        load_spec_file(_definition(tmp_path, source={"file": file}))
    assert str(tmp_path / "bench.yaml") in str(caught.value) and "inside the data directory" in str(caught.value)


def test_a_data_file_in_a_subdirectory_is_fine(tmp_path):
    assert load_spec_file(_definition(tmp_path, source={"file": "mmmu/MMMU_DEV_VAL.tsv"})).source.file


def test_an_all_digit_checksum_yaml_reads_as_a_number_is_refused(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text("name: bench\nsource:\n  format: tsv\n  file: bench.tsv\n  sha256: " + "1" * 64 + "\n")

    with pytest.raises(BenchmarkError) as caught:
        load_spec_file(path)

    assert str(path) in str(caught.value) and "source.sha256 must be text (quote it)" in str(caught.value)


@pytest.mark.parametrize("algorithm, value", [("md5", "0" * 31), ("md5", "g" * 32), ("sha256", "a" * 32),
                                              ("sha256", "a" * 65)])
def test_a_checksum_of_the_wrong_length_or_alphabet_is_refused(tmp_path, algorithm, value):
    with pytest.raises(BenchmarkError, match=f"source.{algorithm} '{value}' is not an {algorithm} digest"):
        load_spec_file(_definition(tmp_path, source={algorithm: value}))


def test_quoted_digits_are_a_valid_checksum(tmp_path):
    spec = load_spec_file(_definition(tmp_path, source={"sha256": "1" * 64, "md5": "ABCDEF" + "0" * 26}))
    assert (spec.source.sha256, spec.source.md5) == ("1" * 64, "ABCDEF" + "0" * 26)


def test_an_unknown_columns_key_is_refused():
    with pytest.raises(BenchmarkError, match=r"unknown columns keys \['subjet'\]"):
        parse_spec({"name": "t", "source": {"format": "tsv", "file": "x"}, "columns": {"subjet": "category"}})
