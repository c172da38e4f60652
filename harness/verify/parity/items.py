"""What a peer's scorer sees of one scored response: the fields their datasets carry, no more.

VLMEvalKit, lmms-eval and the R1V3 release score from their own copies of MMMU and MathVista, whose
columns differ from the harness's items (MathVista keeps the option *text* as its answer, its
precision as a float, MMMU's open questions may list several accepted answers). `ParityItem` holds
exactly what those scorers read, built from a predictions line or a run directory's item, so each
peer module can address its own dataset's view without knowing where the item came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.bench.loaders import OPTION_LETTERS, _as_list
from harness.verify.items import normalize_choices
from harness.verify.rules import gold_letter

MATHVISTA_QUESTION_TYPES = ("multi_choice", "free_form")
MATHVISTA_ANSWER_TYPES = ("integer", "float", "text", "list")


class ParityInputError(ValueError):
    """An item a peer's scorer cannot be given; the message names the item."""


@dataclass(frozen=True)
class ParityItem:
    """One response with its gold, in the shape the peers' datasets hold it.

    `answer` is the dataset's answer field: for MMMU the option letter or the open answer's text; for
    MathVista the option *text* of a multiple-choice item (its letter is `gold_letter`) or the
    free-form value. `accepted` lists every accepted answer (several only when the data gives a
    list). `options` are the option texts in letter order (none for open / free-form items).
    `precision` is MathVista's precision as the data holds it (a float, or None).
    """

    key: str  # unique within one comparison: benchmark, id and sample
    id: str
    family: str  # "mmmu" (multiple choice or open) or "mathvista"
    response: str
    answer: str
    accepted: tuple[str, ...]
    options: tuple[str, ...] = ()
    gold_letter: str | None = None
    answer_type: str | None = None  # MathVista: integer | float | text | list
    precision: float | int | None = None
    thinking: bool | None = None  # True: the response is known to start inside a thought

    @property
    def is_choice(self) -> bool:
        return bool(self.options)

    @property
    def letters(self) -> str:
        return OPTION_LETTERS[: len(self.options)]

    @property
    def answer_cell(self) -> str:
        """The answer as a table cell holds it (VLMEvalKit's TSV, the R1V3 script's `str(answer)`):
        a list of accepted answers becomes the text of the list."""
        return self.answer if len(self.accepted) == 1 else str(list(self.accepted))


def family_of(benchmark: object, meta: dict[str, Any]) -> str:
    """MathVista when the benchmark says so or the item carries MathVista's question_type; else MMMU."""
    if str(benchmark or "").lower().startswith("mathvista") or meta.get("question_type") in MATHVISTA_QUESTION_TYPES:
        return "mathvista"
    return "mmmu"


def _precision(value: Any) -> float | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return None
    return None if isinstance(value, float) and math.isnan(value) else value


def _gold_letter(item_id: str, answer: str, choices: dict[str, str]) -> str:
    try:  # the verifier's reading of a gold: its letter, or the option whose text it is
        return gold_letter(answer, choices)
    except ValueError as error:
        raise ParityInputError(f"item {item_id!r}: {error}") from None


def parity_item(record: dict[str, Any], key: str) -> ParityItem:
    """A ParityItem from a predictions line or a run-directory item joined with its response.

    The record holds `id`, `answer`, `response`, optional `choices` (list or letter → text),
    `meta` (MathVista's `question_type`, `answer_type`, `precision`), `benchmark`, `thinking`
    and `accepted_answers` (a list of every accepted answer string).
    """
    item_id = str(record["id"])
    meta = record.get("meta") or {}
    if not isinstance(meta, dict):
        raise ParityInputError(f"item {item_id!r}: meta must be an object")
    try:
        choices = normalize_choices(item_id, record.get("choices") or None)
    except ValueError as error:
        raise ParityInputError(str(error)) from None
    if not choices and meta.get("choices") is not None:
        choices = dict(zip(OPTION_LETTERS, (str(text) for text in _as_list(meta["choices"]))))
    answer = str(record["answer"])
    accepted = record.get("accepted_answers")
    if accepted is not None and (not isinstance(accepted, list) or not accepted
                                 or not all(isinstance(a, str) for a in accepted)):
        raise ParityInputError(f"item {item_id!r}: accepted_answers must be a non-empty list of strings")
    family = family_of(record.get("benchmark"), meta)
    common = dict(key=key, id=item_id, family=family, response=str(record["response"]),
                  thinking=record.get("thinking"))
    if family == "mathvista":
        question_type = meta.get("question_type") or ("multi_choice" if choices else "free_form")
        answer_type = meta.get("answer_type") or ("text" if choices else None)
        if question_type not in MATHVISTA_QUESTION_TYPES:
            raise ParityInputError(f"item {item_id!r}: MathVista question_type {question_type!r} is not one of "
                                   f"{MATHVISTA_QUESTION_TYPES}")
        if answer_type not in MATHVISTA_ANSWER_TYPES:
            raise ParityInputError(f"item {item_id!r}: MathVista answer_type {answer_type!r} is not one of "
                                   f"{MATHVISTA_ANSWER_TYPES} (give it in the item's meta)")
        precision = _precision(meta.get("precision"))
        if question_type == "multi_choice":
            if not choices:
                raise ParityInputError(f"item {item_id!r}: a multi_choice item needs its choices")
            letter = _gold_letter(item_id, answer, choices)
            return ParityItem(**common, answer=choices[letter], accepted=(choices[letter],),
                              options=tuple(choices.values()), gold_letter=letter, answer_type=answer_type,
                              precision=precision)
        return ParityItem(**common, answer=answer, accepted=(answer,), answer_type=answer_type, precision=precision)
    if choices:
        letter = _gold_letter(item_id, answer, choices)
        return ParityItem(**common, answer=letter, accepted=tuple(accepted or (letter,)),
                          options=tuple(choices.values()), gold_letter=letter)
    return ParityItem(**common, answer=answer, accepted=tuple(accepted or (answer,)))
