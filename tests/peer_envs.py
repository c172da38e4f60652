"""The peers' own code, each in its own pinned virtual environment, run in a separate process.

VLMEvalKit (ms-vlmeval) and lmms-eval are never imported by the harness: VLMEvalKit's package
`__init__` turns TLS certificate checks off for the whole process and loads a `.env` of API keys,
and both pull stacks that would drift under the harness's own pins. Each gets a virtual environment
under `~/.cache/harness/peers/` (or $HARNESS_PEER_CACHE), installed with `--no-deps` from an exact
list of the few packages their scoring modules import, keyed by that list, so it is built once
(seconds) and rebuilt when a pin changes. A driver script in `tests/peer_drivers/` runs their scoring
functions on JSON lines and prints their verdicts. A caller may pass a longer pinned list instead: the
whole lmms-eval + vLLM environment that perf/bench_peer.py runs lmms-eval's own command line in.

Building needs only the package registry. Any failure raises PeerEnvError: a test that needs a peer
fails, it never skips.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DRIVERS = Path(__file__).resolve().parent / "peer_drivers"
_PANDAS = ["pandas==3.1.1", "numpy==2.3.5", "python-dateutil==4.0.0", "six==1.17.0", "tzdata==2026.6"]
REQUIREMENTS = {
    "lmms-eval": ["lmms-eval==0.7.3", "loguru==0.7.3", "PyYAML==6.0.4", "Levenshtein==0.27.5",
                  "rapidfuzz==3.14.6", *_PANDAS],
    "vlmevalkit": ["ms-vlmeval==0.0.20", "validators==0.36.0", "huggingface_hub==2.4.0", "httpx2==2.16.2",
                   "idna==3.20", "typing_extensions==4.16.0", "filelock==4.3.1", "sty==1.0.6", "pillow==13.0.0",
                   "tqdm==4.70.1", *_PANDAS],
}
DRIVER_FILES = {"lmms-eval": "lmms_eval_driver.py", "vlmevalkit": "vlmevalkit_driver.py"}
READY = "READY"


class PeerEnvError(RuntimeError):
    """A peer's environment could not be built, or its code failed."""


def cache_root() -> Path:
    return Path(os.environ.get("HARNESS_PEER_CACHE") or Path.home() / ".cache" / "harness" / "peers")


def env_dir(peer: str, requirements: list[str] | None = None) -> Path:
    key = json.dumps([sys.version_info[:2], REQUIREMENTS[peer] if requirements is None else requirements]).encode()
    return cache_root() / f"{peer}-{hashlib.sha256(key).hexdigest()[:12]}"


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise PeerEnvError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout)[-2000:]}")


def peer_python(peer: str, requirements: list[str] | None = None) -> Path:
    """The Python of the peer's environment (its pinned `requirements`, by default its scoring packages),
    building it first if needed (one builder at a time)."""
    pins = REQUIREMENTS[peer] if requirements is None else requirements
    target = env_dir(peer, pins)
    python = target / "bin" / "python"
    if (target / READY).exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / READY).exists():
            return python
        shutil.rmtree(target, ignore_errors=True)  # a half-built environment from an interrupted build
        _run([sys.executable, "-m", "venv", "--without-pip", str(target)], f"creating {target}")
        _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
              "--disable-pip-version-check", *pins], f"installing {peer} into {target}")
        (target / READY).write_text("\n".join(pins) + "\n")
    return python


def run_peer(peer: str, rows: list[dict[str, Any]], *args: str) -> list[dict[str, Any]]:
    """The peer driver's output line for each input row, in order."""
    python = peer_python(peer)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([str(python), str(DRIVERS / DRIVER_FILES[peer]), *args], env=env, capture_output=True,
                          text=True, input="".join(json.dumps(row) + "\n" for row in rows), timeout=600)
    if done.returncode != 0:
        raise PeerEnvError(f"{peer} driver failed ({done.returncode}): {done.stderr[-3000:]}")
    out = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(out) != len(rows):
        raise PeerEnvError(f"{peer} driver returned {len(out)} lines for {len(rows)} rows: {done.stderr[-2000:]}")
    return out


def peer_rows(peer: str, items: list[Any]) -> list[dict[str, Any]]:
    """Each ParityItem as the peer's dataset holds it, for its driver: lmms-eval's MMMU / MathVista
    documents (Hugging Face columns), VLMEvalKit's TSV rows."""
    rows = []
    for number, item in enumerate(items):
        if peer == "lmms-eval" and item.family == "mmmu":
            rows.append({"key": item.key, "family": "mmmu", "id": f"validation_Parity_{number}",
                         "question_type": "multiple-choice" if item.is_choice else "open",
                         "options": repr(list(item.options)), "response": item.response,
                         "answer": list(item.accepted) if len(item.accepted) > 1 else item.answer})
        elif peer == "lmms-eval":
            rows.append({"key": item.key, "family": "mathvista", "pid": item.id, "query": "",
                         "question_type": "multi_choice" if item.is_choice else "free_form",
                         "answer_type": item.answer_type, "choices": list(item.options) or None,
                         "answer": item.answer, "precision": item.precision, "metadata": {},
                         "response": item.response})
        elif item.family == "mmmu":
            rows.append({"key": item.key, "family": "mmmu", "prediction": item.response,
                         "options": list(item.options), "answer": item.answer_cell})
        else:
            rows.append({"key": item.key, "family": "mathvista", "prediction": item.response,
                         "question_type": "multi_choice" if item.is_choice else "free_form",
                         "answer_type": item.answer_type, "answer": item.answer,
                         "answer_option": item.gold_letter,
                         "choices": repr(list(item.options)) if item.is_choice else None})
    return rows


def _same_extraction(peer: str, item: Any, mine: Any, parsed: Any) -> bool:
    if peer == "lmms-eval" and item.family == "mmmu" and not item.is_choice:
        return sorted(map(repr, mine.extracted)) == sorted(map(repr, parsed))  # a set in the peer's code
    if peer == "vlmevalkit" and item.family == "mathvista":
        prefetched = mine.path.startswith("prefetch_") or mine.path == "none_gold"
        expected = mine.extracted if prefetched else ""  # what reaches the GPT step is ""
        return (expected if isinstance(expected, str) else repr(expected)) == parsed
    return mine.extracted == parsed


def disagreements(peer: str, items: list[Any], rewrite: list[Any], theirs: list[dict[str, Any]]) -> list[tuple]:
    """(key, response start, our rewrite's verdict, the peer's own output) wherever the verdict or
    the extraction differ; [] is full agreement."""
    return [(item.key, item.response[:80], mine, peer_out) for item, mine, peer_out in zip(items, rewrite, theirs)
            if mine.correct != peer_out["correct"] or not _same_extraction(peer, item, mine, peer_out["parsed"])]
