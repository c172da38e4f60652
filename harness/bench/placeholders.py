"""Images in the order a question's `<image N>` tags name them, as VLMEvalKit's `split_MMMU` does.

MMMU, MMMU-Pro and EMMA write image tags into the text (question, options, context): `<image 2>` in
MMMU's files, `<image_2>` in EMMA's. VLMEvalKit puts image N where each tag stands, so the model gets
one image per tag, in the order the tags appear: a tag used twice gives that image twice, and an
image no tag names is not given. The harness's prompts place every image before the text, so the
images keep that order and the tags stay in the text as the benchmark wrote them, naming the images
by their number in the file. Text without any tag keeps all of the row's images in file order.
"""

from __future__ import annotations

import re
from typing import Iterable

from harness.types import Sample

MMMU_TAG = re.compile(r"<image (\d+)>")
EMMA_TAG = re.compile(r"<image_(\d+)>")


def order_images_by_tags(sample: Sample, texts: Iterable[str], tag: re.Pattern[str] = MMMU_TAG) -> Sample:
    """Reorder `sample.images` to one image per tag in `texts` (in prompt order); an error if a tag has no image."""
    numbers = [int(number) for text in texts for number in tag.findall(text or "")]
    if not numbers or sample.error:
        return sample
    missing = sorted({n for n in numbers if not 1 <= n <= len(sample.images)})
    if missing:
        sample.error = (f"item {sample.id!r}: the text names image {missing[0]} ({tag.pattern}) but the row has "
                        f"{len(sample.images)} image(s)")
        sample.images = []
        return sample
    sample.images = [sample.images[n - 1] for n in numbers]
    return sample
