"""Training data: JSONL rows checked line by line, a deterministic synthetic task, and prompt encoding.

Rows use the harness's own vocabulary (`id`, `question`, `answer`, `answer_type`, `choices`, images),
so a benchmark's items or a predictions file can be trained on without conversion, and the prompt is
built by the harness's own `PromptBuilder` (family template, system prompt, opened `<think>` in slow
mode), so that what the policy learns is exactly what `harness run` later asks.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import torch

from harness.types import ANSWER_TYPES, infer_answer_type
from harness.verify.items import normalize_choices
from train.errors import SetupError


@dataclass
class TrainItem:
    """One prompt with its reference answer; `response` is the SFT target (None for RL prompts).

    An item given without `answer_type` gets the harness's one inference (`infer_answer_type` over the
    lettered choices, as the verifier calls it), so a trained item is scored exactly as `harness score`
    scores the same row.
    """

    id: str
    question: str
    answer: str
    answer_type: str | None = None
    choices: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)  # image file paths, resolved against the data file
    response: str | None = None
    source: str = ""  # "file:line", for error messages about this item later on

    def __post_init__(self) -> None:
        if self.answer_type is None:
            self.answer_type = infer_answer_type(self.answer, normalize_choices(self.id, self.choices))


class DataError(SetupError):
    """A row that cannot be used; the message names the file and line."""


def _require_text(row: dict[str, Any], key: str, where: str) -> str:
    value = row.get(key)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool) or str(value).strip() == "":
        raise DataError(f"{where}: field {key!r} must be non-empty text, got {value!r}")
    return str(value)


def parse_row(row: Any, where: str, base_dir: Path, need_response: bool) -> TrainItem:
    """Validate one decoded JSON row; `where` is "file:line"."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    question = _require_text(row, "question", where)
    answer = _require_text(row, "answer", where) if "answer" in row or not need_response else str(row.get("answer", ""))
    choices = row.get("choices") or {}
    if not isinstance(choices, (dict, list)):
        raise DataError(f"{where}: choices must be a list or an object letter → text, got {choices!r}")
    try:
        choices = normalize_choices(where, choices)
    except ValueError as error:
        raise DataError(str(error)) from None
    answer_type = row.get("answer_type") or None  # None: typed by TrainItem as the verifier types it
    if answer_type is not None and answer_type not in ANSWER_TYPES:
        raise DataError(f"{where}: answer_type {answer_type!r} is not one of {ANSWER_TYPES}")
    images = row.get("images") or ([row["image"]] if row.get("image") else [])
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise DataError(f"{where}: images must be a list of file paths, got {images!r}")
    resolved = []
    for image in images:
        path = Path(image) if Path(image).is_absolute() else base_dir / image
        if not path.exists():
            raise DataError(f"{where}: image file {image!r} does not exist")
        resolved.append(str(path))
    response = None
    if need_response:
        response = _require_text(row, "response", where)
    return TrainItem(
        id=str(row.get("id", where)), question=question, answer=answer, answer_type=answer_type,
        choices=choices, images=resolved, response=response, source=where,
    )


def read_jsonl(path: str | Path, need_response: bool = False) -> list[TrainItem]:
    """Every row of a JSONL file, or a DataError naming the first bad line."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    from harness.rundir import iter_json_objects

    items = [parse_row(row, f"{path}:{number}", path.parent, need_response)
             for number, row in iter_json_objects(path, DataError)]
    if not items:
        raise DataError(f"data file {path} has no rows")
    return items


def synthetic_arithmetic(n: int, seed: int = 0, max_operand: int = 4, wrong_percent: int = 0) -> list[TrainItem]:
    """Small additions with a worked answer: a task a tiny model learns on CPU within minutes.

    The response has the slow-mode shape (thinking, `</think>`, boxed answer) so cold-start SFT
    teaches the format. `wrong_percent` makes that share of the SFT responses answer the first operand
    instead of the sum (the `answer` field stays right): a noisy cold start leaves the model split
    between a right and a wrong habit, which is where a verifier-rewarded RL stage has something to
    sharpen.
    """
    rng = random.Random(seed)
    items = []
    for index in range(n):
        a, b = rng.randint(0, max_operand), rng.randint(0, max_operand)
        # the wrong responses make one systematic slip (answering the first operand), a habit that a
        # reward can train out for every question at once
        said = a if rng.randrange(100) < wrong_percent else a + b
        items.append(TrainItem(
            id=f"add-{seed}-{index}", question=f"What is {a} + {b}?", answer=str(a + b), answer_type="number",
            response=f"{a} + {b} = {said}</think> \\boxed{{{said}}}", source=f"synthetic:arithmetic#{index}",
        ))
    return items


SYNTHETIC_TASKS = {"arithmetic": synthetic_arithmetic}


def load_items(spec: str, need_response: bool = False) -> list[TrainItem]:
    """`path.jsonl` or `synthetic:<task>?n=200&seed=0&max_operand=4`."""
    if not spec:
        raise DataError("no data given: set data.train (a JSONL path or synthetic:<task>)")
    if spec.startswith("synthetic:"):
        name, _, query = spec[len("synthetic:"):].partition("?")
        if name not in SYNTHETIC_TASKS:
            raise DataError(f"unknown synthetic task {name!r}; known: {sorted(SYNTHETIC_TASKS)}")
        try:
            options = {k: int(v[-1]) for k, v in parse_qs(query).items()}
            return SYNTHETIC_TASKS[name](**options)
        except (TypeError, ValueError) as error:
            raise DataError(f"synthetic task spec {spec!r}: {error}") from None
    return read_jsonl(spec, need_response=need_response)


def write_jsonl(items: list[TrainItem], path: str | Path) -> Path:
    """Save items in the row format `read_jsonl` reads (and the harness's predictions fields)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for item in items:
            row = {"id": item.id, "question": item.question, "answer": item.answer, "answer_type": item.answer_type}
            if item.choices:
                row["choices"] = item.choices
            if item.images:
                row["images"] = item.images
            if item.response is not None:
                row["response"] = item.response
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_benchmark_definition(jsonl_path: str | Path, name: str) -> Path:
    """A harness benchmark file over rows written by `write_jsonl`, beside them, so `harness run --bench
    <yaml> --data-dir <dir>` asks exactly the prompts the trainer used (the question, nothing added)."""
    jsonl_path = Path(jsonl_path)
    definition = {
        "name": name,
        "title": f"{name} (written by python -m train data)",
        "group": "Other",
        "source": {"format": "jsonl", "file": jsonl_path.name},
        "columns": {"id": "id", "question": "question", "answer": "answer", "answer_type": "answer_type"},
        "answer_type": "auto",
        # renders exactly as question_text() below
        "prompt": "{{ question }}{% if choices %}\nOptions:{% for letter, text in choices.items() %}"
                  "\n{{ letter }}. {{ text }}{% endfor %}{% endif %}",
        "metrics": ["accuracy"],
    }
    import yaml

    path = jsonl_path.with_name(f"{name}.yaml")
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


@dataclass
class EncodedPrompt:
    """Token ids of a prompt plus the extra model inputs its images need (pixel_values, grid sizes)."""

    input_ids: list[int]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    text: str = ""
    images: list[str] = field(default_factory=list)  # the image files, for engines that run their own processor


def question_text(item: TrainItem) -> str:
    if not item.choices:
        return item.question
    options = "\n".join(f"{letter}. {text}" for letter, text in item.choices.items())
    return f"{item.question}\nOptions:\n{options}"


def prompt_builder(model_dir: Any, tokenizer: Any, system_prompt: str | None) -> Any:
    """The harness's own prompt builder for this model's family, so training prompts are evaluation prompts."""
    from harness.prompts import DEFAULT_SYSTEM, PromptBuilder, detect_family

    return PromptBuilder(detect_family(model_dir, tokenizer), tokenizer,
                         system=DEFAULT_SYSTEM if system_prompt is None else system_prompt)


def encode_prompt(processor: Any, tokenizer: Any, builder: Any, item: TrainItem, thinking: bool,
                  max_prompt_tokens: int) -> EncodedPrompt:
    """Token ids (and image tensors through the processor when the item has images)."""
    text = builder.render(question_text(item), num_images=len(item.images), think=thinking)
    extras: dict[str, torch.Tensor] = {}
    if item.images:
        if processor is None:
            raise DataError(f"{item.source}: item has images but the model has no processor")
        from PIL import Image

        images = [Image.open(path).convert("RGB") for path in item.images]
        batch = processor(text=[text], images=images, return_tensors="pt")
        input_ids = batch["input_ids"][0].tolist()
        extras = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
    else:
        input_ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(input_ids) > max_prompt_tokens:
        raise DataError(
            f"{item.source}: prompt has {len(input_ids)} tokens, more than data.max_prompt_tokens={max_prompt_tokens}; "
            "raise data.max_prompt_tokens or shorten the item"
        )
    return EncodedPrompt(input_ids=input_ids, extras=extras, text=text, images=list(item.images))
