"""Checkpoints that `harness run --model <dir>` loads as they are, and that a killed run resumes from.

A checkpoint is a plain HF model directory (`save_pretrained` weights, config, tokenizer/processor,
generation config) plus a `trainer_state/` folder that model loaders never look into. It is written
into a temporary sibling directory and renamed into place, so a directory named `step-N` is always
complete: a kill mid-save leaves only a `.tmp-` folder, which the next run deletes.

A checkpoint is also untrusted input (it may come from someone else), and unpickling runs code. So
nothing in `trainer_state/` is unpickled beyond tensors: the optimizer's state and the torch RNG
states are read with `torch.load(weights_only=True)`; everything else (step, data cursor, best
validation loss, the scheduler's counters, the python and numpy RNG states) is JSON.

    trainer_state/state.json      step, stage, data cursor, bests, the settings the run may not change
    trainer_state/optimizer.pt    optimizer.state_dict(): tensors and numbers
    trainer_state/scheduler.json  scheduler.state_dict(): counters and learning rates
    trainer_state/rng.json        python `random` and numpy generator states
    trainer_state/torch_rng.pt    torch (and CUDA) generator states: byte tensors
"""

from __future__ import annotations

import json
import pickle
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.rundir import write_json_atomic
from train.errors import SetupError

STATE_DIR = "trainer_state"
PREFIX = "step-"
# 2: nothing but tensors is unpickled (format 1 pickled the python/numpy RNG states into rng.pt)
STATE_FORMAT = 2


@dataclass
class ResumeState:
    step: int
    state: dict[str, Any]
    path: Path


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / "checkpoints" / f"{PREFIX}{step:06d}"


def _rng_json() -> dict[str, Any]:
    version, internal, gauss_next = random.getstate()
    generator, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    return {"python": [version, list(internal), gauss_next],
            "numpy": [generator, keys.tolist(), position, has_gauss, cached_gaussian]}


def _rng_tensors() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(where: Path, saved: Any, tensors: Any) -> None:
    try:
        version, internal, gauss_next = saved["python"]
        random.setstate((int(version), tuple(int(v) for v in internal), gauss_next))
        generator, keys, position, has_gauss, cached_gaussian = saved["numpy"]
        np.random.set_state((str(generator), np.asarray(keys, dtype=np.uint32), int(position), int(has_gauss),
                             float(cached_gaussian)))
        torch.set_rng_state(tensors["torch"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise SetupError(f"checkpoint {where}: its random-generator state is malformed ({error}); "
                         "delete this checkpoint to resume from an earlier one") from None
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(tensors["cuda"])


def _plain_json(value: Any, what: str) -> str:
    """JSON text for state that must round-trip exactly; anything that is not plain data is an error."""
    try:
        return json.dumps(value)
    except TypeError as error:
        raise SetupError(f"{what} holds state that is not plain numbers and text ({error}); "
                         "it cannot be checkpointed without pickling: choose another one") from None


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
        text = _plain_json(scheduler.state_dict(), f"learning-rate scheduler {type(scheduler).__name__}")
        (trainer_state / "scheduler.json").write_text(text, encoding="utf-8")
    (trainer_state / "rng.json").write_text(json.dumps(_rng_json()), encoding="utf-8")
    torch.save(_rng_tensors(), trainer_state / "torch_rng.pt")
    (trainer_state / "state.json").write_text(
        json.dumps({"step": step, "format": STATE_FORMAT, **(state or {})}, indent=2), encoding="utf-8")
    if final.exists():  # re-saving the same step (e.g. `best`): swap in place
        old = final.with_name(f".old-{final.name}")
        final.replace(old)
        temporary.replace(final)
        shutil.rmtree(old)
    else:
        temporary.replace(final)
    write_json_atomic(output_dir / "checkpoints" / "latest.json", {"path": final.name, "step": step})
    if keep_last > 0:
        for stale in list_checkpoints(output_dir)[:-keep_last]:
            shutil.rmtree(stale)
    return final


def list_checkpoints(output_dir: Path) -> list[Path]:
    """Complete `step-N` checkpoints, oldest first. Leftovers of a kill are cleaned up first: `.tmp-`
    folders are removed, and an `.old-` folder whose replacement never landed is put back."""
    root = output_dir / "checkpoints"
    if not root.exists():
        return []
    for leftover in root.glob(".tmp-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
    for previous in root.glob(".old-*"):
        target = previous.with_name(previous.name[len(".old-"):])
        if target.exists():
            shutil.rmtree(previous)
        else:
            previous.replace(target)
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_DIR / "state.json").exists()]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX):]))


def _read_json(path: Path, checkpoint: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise SetupError(f"checkpoint {checkpoint}: {path.name} is not valid JSON ({error}); "
                         "delete this checkpoint to resume from an earlier one") from None


def load_resume_state(output_dir: Path) -> ResumeState | None:
    """The newest complete checkpoint's trainer state, or None for a fresh run."""
    checkpoints = list_checkpoints(output_dir)
    if not checkpoints:
        return None
    path = checkpoints[-1]
    state = _read_json(path / STATE_DIR / "state.json", path)
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise SetupError(f"checkpoint {path}: {STATE_DIR}/state.json has no integer 'step'; "
                         "delete this checkpoint to resume from an earlier one")
    if state.get("format") != STATE_FORMAT:
        raise SetupError(
            f"checkpoint {path} was written by an older trainer whose resume state needs unpickling, which can "
            f"run code: start a new output_dir with model={path} to continue from its weights, or resume it "
            "with the version that wrote it")
    return ResumeState(step=state["step"], state=state, path=path)


def _load_tensors(path: Path, checkpoint: Path) -> Any:
    """`torch.load` that unpickles tensors and plain containers only: a planted payload is refused, not run."""
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        # torch explains a refused global over many lines; the one that names it is enough
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        named = [line.split("error:", 1)[-1].strip() for line in lines if "WeightsUnpickler error" in line]
        reason = (named or lines or [type(error).__name__])[0][:200]
        raise SetupError(f"checkpoint {checkpoint}: {STATE_DIR}/{path.name} holds more than tensors and numbers "
                         f"or is damaged ({reason}); it was not unpickled. Delete this checkpoint to resume from "
                         "an earlier one, or start a new output_dir") from None


def restore_training_state(path: Path, optimizer: torch.optim.Optimizer | None, scheduler: Any) -> None:
    """Load optimizer, scheduler and RNG states saved beside the weights at `path`."""
    directory = path / STATE_DIR
    try:
        if optimizer is not None and (directory / "optimizer.pt").exists():
            optimizer.load_state_dict(_load_tensors(directory / "optimizer.pt", path))
        if scheduler is not None and (directory / "scheduler.json").exists():
            saved = _read_json(directory / "scheduler.json", path)
            # load_state_dict copies every key onto the scheduler object: accept exactly the keys it writes
            if not isinstance(saved, dict) or set(saved) != set(scheduler.state_dict()):
                raise SetupError(f"checkpoint {path}: {STATE_DIR}/scheduler.json is not the state of this run's "
                                 f"{type(scheduler).__name__} scheduler; resume with the settings that wrote it, "
                                 "or start a new output_dir")
            scheduler.load_state_dict(saved)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, SetupError):
            raise
        raise SetupError(f"checkpoint {path}: its optimizer or scheduler state does not fit this run ({error}); "
                         "resume with the settings that wrote it, or start a new output_dir") from None
    _restore_rng(path, _read_json(directory / "rng.json", path), _load_tensors(directory / "torch_rng.pt", path))


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load a checkpoint's safetensors into an already built model (resume keeps the model object)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    try:
        for shard in sorted(path.glob("*.safetensors")):
            state.update(load_file(str(shard)))
    except SafetensorError as error:
        raise SetupError(f"checkpoint {path}: its weights are damaged ({error}); "
                         "delete this checkpoint to resume from an earlier one") from None
    if not state:
        raise SetupError(f"checkpoint {path} has no safetensors weights; delete it to resume from an earlier one")
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shapes that differ from the model's
        raise SetupError(f"checkpoint {path} does not match the model ({' '.join(str(error).split())[:300]}); "
                         "resume with the model that wrote it, or start a new output_dir") from None
    # a tied output layer is saved once, under the embedding's name
    tied = getattr(model.config, "tie_word_embeddings", False)
    missing = [m for m in missing if not (tied and m.endswith("lm_head.weight"))]
    if missing or unexpected:
        raise SetupError(f"checkpoint {path} does not match the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}; resume with the model that wrote it, or start a new output_dir")
