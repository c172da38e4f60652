"""LogicVista: answers that may name several options, and accuracy per reasoning skill.

Some LogicVista answers select several options ("A, C"); the benchmark compares the set of letters,
so such answers are normalised to sorted letters ("AC") and typed `text`. `skill` lists one or more
of inductive, deductive, numerical, spatial, mechanical; an item counts towards each it names.
"""

from __future__ import annotations

import re

from harness.bench.common import accuracy_table, meta_text
from harness.types import ScoredItem
from harness.types import Sample

SKILLS = ("inductive", "deductive", "numerical", "spatial", "mechanical")


def prepare(sample: Sample, row: dict) -> Sample:
    letters = re.findall(r"[A-Za-z]", sample.answer)
    compact = re.sub(r"[\s,;]+", "", sample.answer)
    if len(letters) == 1 and len(compact) == 1:
        sample.answer = letters[0].upper()
        sample.answer_type = "mcq"
    elif letters and len(compact) == len(letters):
        sample.answer = "".join(sorted(letter.upper() for letter in letters))
        sample.answer_type = "text"
    return sample


def by_skill(rows: list[ScoredItem]) -> dict:
    def skills(row: ScoredItem) -> list[str]:
        text = meta_text(row, "skill").lower()
        return [skill for skill in SKILLS if skill in text]

    return {"by_skill": accuracy_table(rows, skills)}
