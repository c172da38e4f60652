"""Chat templates per model family: the exact text the model sees, and its hash for the manifest.

The templates are jinja2 files in prompts/. A family fixes the role names and how an image is
announced to the engine (Qwen-VL's vision tokens, InternVL's `<image>`); the mode decides whether the
assistant turn opens with `<think>`. Families we do not know fall back to the model's own chat
template (`native`), with `<think>` appended for slow thinking.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

PROMPT_DIR = Path(__file__).resolve().parent.parent / "prompts"
DEFAULT_SYSTEM = "You are a helpful assistant."
QWEN_VISION = "<|vision_start|><|image_pad|><|vision_end|>"


class PromptError(ValueError):
    """A chat template that cannot make prompts (unknown family, a template that fails to parse or render)."""


@dataclass(frozen=True)
class Family:
    name: str
    template: str | None  # file in prompts/, or None for the model's own chat template
    user_role: str = "user"
    image_placeholder: str = ""


FAMILIES: dict[str, Family] = {
    "chatml": Family("chatml", "chatml.j2", "user", ""),
    "qwen_vl": Family("qwen_vl", "chatml.j2", "user", QWEN_VISION),
    "qwen3": Family("qwen3", "qwen3.j2", "user", QWEN_VISION),
    # Skywork-R1V3 (InternVL-based); the report prints the human role name (§6.2).
    "skywork": Family("skywork", "chatml.j2", "human", "<image>\n"),
    "internvl": Family("internvl", "chatml.j2", "user", "<image>\n"),
    "native": Family("native", None),
}

_MODEL_TYPES = {
    "qwen2_vl": "qwen_vl", "qwen2_5_vl": "qwen_vl", "qwen3": "qwen3", "qwen3_moe": "qwen3",
    "qwen3_vl": "qwen3", "qwen3_vl_moe": "qwen3", "internvl_chat": "internvl", "internvl": "internvl",
    "skywork_chat": "skywork",
}


def detect_family(model_dir: str | Path, tokenizer: Any) -> str:
    """Family from config.json's model_type/architectures, then from the tokenizer's vocabulary."""
    config_path = Path(model_dir) / "config.json"
    model_type, architectures = "", []
    if config_path.exists():
        config = json.loads(config_path.read_text())
        model_type = config.get("model_type", "")
        architectures = config.get("architectures") or []
    if any("Skywork" in a for a in architectures):
        return "skywork"
    if model_type in _MODEL_TYPES:
        return _MODEL_TYPES[model_type]
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    if "<|im_start|>" in vocab and "<|im_end|>" in vocab:
        return "chatml"
    return "native"


class PromptBuilder:
    """Renders (user text, number of images, mode) into the exact prompt string."""

    def __init__(self, family: str, tokenizer: Any = None, system: str = DEFAULT_SYSTEM,
                 template_file: str | Path | None = None):
        if family not in FAMILIES:
            raise PromptError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")
        self.family = FAMILIES[family]
        self.system = system
        self.tokenizer = tokenizer
        if template_file is not None:
            path = Path(template_file)
        elif self.family.template is not None:
            path = PROMPT_DIR / self.family.template
        else:
            path = None
        if path is not None:
            if not path.exists():
                raise FileNotFoundError(f"chat template not found: {path}")
            self.template_name = path.name
            self._where = f"--template {path}" if template_file is not None else f"chat template {path}"
            try:
                self.template_text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise PromptError(f"{self._where}: not UTF-8 text ({exc.reason})") from None
            # A --template file is configuration, not code: it renders in jinja2's sandbox.
            try:
                self._template = jinja2.sandbox.ImmutableSandboxedEnvironment(
                    undefined=jinja2.StrictUndefined).from_string(self.template_text)
            except jinja2.TemplateSyntaxError as exc:
                raise PromptError(f"{self._where}:{exc.lineno}: not a valid jinja2 template ({exc.message})") from None
        else:
            if tokenizer is None or not getattr(tokenizer, "chat_template", None):
                raise PromptError("family 'native' needs a tokenizer with a chat template")
            self.template_name = "tokenizer.chat_template"
            self._where = "the model's own chat template (tokenizer.chat_template)"
            self.template_text = tokenizer.chat_template
            self._template = None

    @property
    def sha256(self) -> str:
        material = json.dumps({"template": self.template_text, "system": self.system,
                               "family": self.family.__dict__}, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        return {"family": self.family.name, "name": self.template_name, "sha256": self.sha256,
                "system": self.system}

    def render(self, user: str, num_images: int = 0, think: bool = True) -> str:
        """The prompt text; a template that fails (an undefined name, an attribute the sandbox refuses) is a
        PromptError naming the template."""
        try:
            return self._render(user, num_images, think)
        except jinja2.TemplateError as exc:
            raise PromptError(f"{self._where}: cannot render ({type(exc).__name__}: {exc}); fix the template") from None

    def _render(self, user: str, num_images: int, think: bool) -> str:
        if self._template is not None:
            return self._template.render(system=self.system, user=user, user_role=self.family.user_role,
                                         num_images=num_images, image_placeholder=self.family.image_placeholder,
                                         think=think)
        content: Any = user
        if num_images:
            content = [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": user}]
        messages = [{"role": "system", "content": self.system}, {"role": "user", "content": content}]
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + "<think>\n" if think else text
