"""Checkpoints that `harness run --model <dir>` loads as they are, and that a killed run resumes from.

A checkpoint is a plain HF model directory (`save_pretrained` weights, config, tokenizer/processor,
generation config) plus a `trainer_state/` folder (optimizer, scheduler, RNG states, step, data cursor)
that model loaders never look into. It is written into a temporary sibling directory and renamed into
place, so a directory named `step-N` is always complete: a kill mid-save leaves only a `.tmp-` folder,
which the next run deletes.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_DIR = "trainer_state"
PREFIX = "step-"


@dataclass
class ResumeState:
    step: int
    state: dict[str, Any]
    path: Path


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / "checkpoints" / f"{PREFIX}{step:06d}"


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_json_atomic(path: Path, data: Any) -> None:
    temporary = path.with_name(f".tmp-{path.name}")
    temporary.write_text(json.dumps(data, indent=2, default=str))
    os.replace(temporary, path)


def save_checkpoint(
    output_dir: Path,
    step: int,
    model: torch.nn.Module,
    tokenizer: Any,
    processor: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    state: dict[str, Any] | None = None,
    keep_last: int = 0,
    name: str | None = None,
) -> Path:
    """Write the checkpoint atomically and return its directory; prune old `step-` checkpoints."""
    final = checkpoint_dir(output_dir, step) if name is None else output_dir / "checkpoints" / name
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".tmp-{final.name}")
    if temporary.exists():
        shutil.rmtree(temporary)
    model.save_pretrained(temporary, safe_serialization=True)
    (processor if processor is not None else tokenizer).save_pretrained(temporary)
    if processor is not None:
        tokenizer.save_pretrained(temporary)
    trainer_state = temporary / STATE_DIR
    trainer_state.mkdir()
    if optimizer is not None:
        torch.save(optimizer.state_dict(), trainer_state / "optimizer.pt")
    if scheduler is not None:
        torch.save(scheduler.state_dict(), trainer_state / "scheduler.pt")
    torch.save(_rng_state(), trainer_state / "rng.pt")
    (trainer_state / "state.json").write_text(json.dumps({"step": step, **(state or {})}, indent=2, default=str))
    if final.exists():  # re-saving the same step (e.g. `best`): swap in place
        old = final.with_name(f".old-{final.name}")
        os.replace(final, old)
        os.replace(temporary, final)
        shutil.rmtree(old)
    else:
        os.replace(temporary, final)
    write_json_atomic(output_dir / "checkpoints" / "latest.json", {"path": final.name, "step": step})
    if keep_last > 0:
        for stale in list_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(stale)
    return final


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete `step-N` checkpoints, oldest first. Leftover `.tmp-` folders from a kill are removed."""
    root = output_dir / "checkpoints"
    if not root.exists():
        return []
    for leftover in root.glob(".tmp-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_DIR / "state.json").exists()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def load_resume_state(output_dir: Path) -> ResumeState | None:
    """The newest complete checkpoint's trainer state, or None for a fresh run."""
    checkpoints = list_checkpoints(output_dir)
    if not checkpoints:
        return None
    path = checkpoints[-1]
    state = json.loads((path / STATE_DIR / "state.json").read_text())
    return ResumeState(step=int(state["step"]), state=state, path=path)


def restore_training_state(path: Path, optimizer: torch.optim.Optimizer | None, scheduler: Any) -> None:
    """Load optimizer, scheduler and RNG states saved beside the weights at `path`."""
    directory = path / STATE_DIR
    if optimizer is not None and (directory / "optimizer.pt").exists():
        optimizer.load_state_dict(torch.load(directory / "optimizer.pt", weights_only=False))
    if scheduler is not None and (directory / "scheduler.pt").exists():
        scheduler.load_state_dict(torch.load(directory / "scheduler.pt", weights_only=False))
    _restore_rng(torch.load(directory / "rng.pt", weights_only=False))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint's safetensors into an already built model (resume keeps the model object)."""
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for shard in sorted(path.glob("*.safetensors")):
        state.update(load_file(str(shard)))
    if not state:
        raise ValueError(f"checkpoint {path} has no safetensors weights")
    missing, unexpected = model.load_state_dict(state, strict=False)
    # a tied output layer is saved once, under the embedding's name
    tied = getattr(model.config, "tie_word_embeddings", False)
    missing = [m for m in missing if not (tied and m.endswith("lm_head.weight"))]
    if missing or unexpected:
        raise ValueError(f"checkpoint {path} does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
