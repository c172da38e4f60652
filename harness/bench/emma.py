"""EMMA-mini rows from the publisher's Hugging Face files: question kinds and images in tag order.

EMMA marks its kinds in `type` ("Multiple Choice" / "Open-ended"), keeps the options as a list and
its images in `image_1` .. `image_5`, and names them in the text as `<image_N>` (context, question
and options alike); the model gets them in the order the tags appear, as EMMA's own scripts do.
"""

from __future__ import annotations

from harness.bench.common import meta_text
from harness.bench.loaders import DataError
from harness.bench.placeholders import EMMA_TAG, order_images_by_tags
from harness.types import Sample


def prepare(sample: Sample, row: dict) -> Sample:
    kind = meta_text(sample, "type").lower()
    if kind == "multiple choice":
        letter = sample.answer.strip().upper()
        if letter not in sample.choices:
            raise DataError(f"EMMA item {sample.id!r}: answer {sample.answer!r} is not one of its option letters")
        sample.answer, sample.answer_type = letter, "mcq"
    elif kind != "open-ended":
        raise DataError(f"EMMA item {sample.id!r}: type {meta_text(sample, 'type')!r} is not "
                        "'Multiple Choice' or 'Open-ended'")
    texts = [meta_text(sample, "context"), sample.question, *sample.choices.values()]
    return order_images_by_tags(sample, texts, EMMA_TAG)
