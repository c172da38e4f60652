"""VLMEvalKit's rule scoring of MMMU and MathVista (ms-vlmeval 0.0.20), rewritten from its behaviour.

MMMU is an image MCQ dataset there, scored with `exact_matching` (no judge model): open questions
become two options (A = the gold text, B = "Other Answers", gold A), and `can_infer` must find the
answer in the prediction, else the prediction is "Z" (wrong). VLMEvalKit's random fallback
(`random.choice` over the letters and Z) runs only after a judge model fails three times, and its
`random` is never seeded: under exact matching it is never reached, so nothing here draws.

`can_infer` = `can_infer_option`, else `can_infer_text`:
- option: a refusal phrase gives "Z"; else the text is cut into words at spaces and `.()[],:;!*#{}`;
  exactly one option letter may occur as a word, and its first occurrence must be among the last
  four words; a lone "Z" word with no letter gives "Z".
- text: only for a prediction at most twice the options' total length; exactly one option's
  lower-cased text must occur in the lower-cased prediction.

MathVista has no rule-only mode (it asserts a working GPT); its rule path is the prefetch that runs
before the GPT extractor: multi_choice items take `can_infer`'s letter, right or wrong; free-form
integer and float items are right only when the whole prediction parses (`int()` / `float()`) to
exactly the gold value (precision is ignored; a value of 0 is falsy and falls through to the GPT);
text and list items never prefetch. Everything else needs the GPT extractor and scores wrong here.

By default the prediction is the whole response, thought included; `split_think` is VLMEvalKit's
SPLIT_THINK switch (the text after the last `</think>`, stripped).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.modes import THINK_CLOSE
from harness.types import Verdict
from harness.verify.parity.items import ParityItem
from harness.verify.parity.peer import PeerOptions, PeerVerdict
from harness.verify.parity.reasons import answer_part, shape_reason

NAME = "vlmevalkit"
REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
API_FAILURE = "Failed to obtain answer via API"
WORD_BREAKS = str.maketrans({ch: " " for ch in ".()[],:;!*#{}"})
LAST_WORDS = 4  # the letter's first occurrence must be within this many words from the end
OPEN_OTHER = "Other Answers"


@dataclass
class Inference:
    """`can_infer`'s answer (a letter, "Z", or None) and why it answered so."""

    letter: str | None
    path: str  # option | text | refusal | z | api_failure | several_letters | letter_not_last | too_long | no_match


def infer_option(prediction: str, choices: dict[str, str]) -> Inference:
    if API_FAILURE in prediction:
        return Inference(None, "api_failure")
    if any(phrase in prediction for phrase in REFUSALS):
        return Inference("Z", "refusal")
    words = prediction.translate(WORD_BREAKS).split()
    present = [letter for letter in choices if letter in words]
    if len(present) == 1:
        if words.index(present[0]) >= len(words) - LAST_WORDS:
            return Inference(present[0], "option")
        return Inference(None, "letter_not_last")
    if not present and "Z" in words:
        return Inference("Z", "z")
    return Inference(None, "several_letters" if present else "no_match")


def infer_text(prediction: str, choices: dict[str, str]) -> Inference:
    lowered = prediction.lower()
    if len(lowered) > 2 * sum(len(text) for text in choices.values()):
        return Inference(None, "too_long")
    hits = [letter for letter, text in choices.items() if text.lower() in lowered]
    return Inference(hits[0], "text") if len(hits) == 1 else Inference(None, "no_match")


def can_infer(prediction: str, choices: dict[str, str]) -> Inference:
    """The option letter the prediction gives, by letter first, then by option text."""
    by_option = infer_option(prediction, choices)
    if by_option.letter:
        return by_option
    by_text = infer_text(prediction, choices)
    if by_text.letter:
        return by_text
    # Say why the letter search failed when it found letters; else why the text search did.
    return by_text if by_option.path in ("no_match", "api_failure") else by_option


def prediction_of(item: ParityItem, options: PeerOptions) -> str:
    text = item.response
    if options.split_think and THINK_CLOSE in text:
        return text.split(THINK_CLOSE)[-1].strip()
    return text


def mmmu_choices(item: ParityItem) -> tuple[dict[str, str], str]:
    """The options VLMEvalKit matches against, and its gold letter: an open question becomes
    A = its answer, B = "Other Answers", and a gold that is not one capital letter becomes "A"."""
    if item.is_choice:
        choices = dict(zip(item.letters, item.options))
    else:
        choices = {"A": item.answer_cell, "B": OPEN_OTHER}
    gold = item.answer_cell
    return choices, gold if len(gold) == 1 and "A" <= gold <= "Z" else "A"


def score_mmmu(item: ParityItem, options: PeerOptions) -> PeerVerdict:
    choices, gold = mmmu_choices(item)
    found = can_infer(prediction_of(item, options), choices)
    letter = found.letter or "Z"
    return PeerVerdict(correct=letter == gold, extracted=letter, path=found.path)


def _whole_value(prediction: str, answer: str, parse) -> tuple[object, bool]:
    """(the parsed prediction or None, whether it equals the parsed gold)."""
    try:
        value = parse(prediction)
    except ValueError:
        return None, False
    try:
        return value, value == parse(answer)
    except ValueError:
        return value, False


def score_mathvista(item: ParityItem, options: PeerOptions) -> PeerVerdict:
    prediction = prediction_of(item, options)
    if item.is_choice:
        found = can_infer(prediction, dict(zip(item.letters, item.options)))
        if not found.letter:
            return PeerVerdict(False, None, "needs_gpt")
        return PeerVerdict(found.letter == item.gold_letter, found.letter, "prefetch_" + found.path)
    if item.answer_type in ("integer", "float"):
        value, equal = _whole_value(prediction, item.answer, int if item.answer_type == "integer" else float)
        if equal and not value:
            return PeerVerdict(False, value, "zero_answer")
        if equal:
            return PeerVerdict(True, value, "prefetch_value")
        return PeerVerdict(False, value, "needs_gpt")
    # text and list: the prefetch compares str(None) with the gold, so only a gold "None" passes
    if item.answer == "None":
        return PeerVerdict(True, "None", "none_gold")
    return PeerVerdict(False, None, "needs_gpt")


def score(items: list[ParityItem], options: PeerOptions) -> list[PeerVerdict]:
    """VLMEvalKit's verdict on every item, in order."""
    return [(score_mathvista if item.family == "mathvista" else score_mmmu)(item, options) for item in items]


_PATH_REASONS = {
    "text": "option_text",
    "prefetch_text": "option_text",
    "letter_not_last": "letter_not_last",
    "several_letters": "several_letters",
    "too_long": "long_response",
    "refusal": "refusal",
    "z": "refusal",
    "prefetch_refusal": "refusal",
    "prefetch_z": "refusal",
    "needs_gpt": "needs_gpt",
    "zero_answer": "zero_answer",
}


def explain(item: ParityItem, peer: PeerVerdict, ours: Verdict, options: PeerOptions) -> str:
    """The reason for a difference that the shared checks left open."""
    answer = answer_part(item.response)
    if answer is not None and not options.split_think:
        alone = (score_mathvista if item.family == "mathvista" else score_mmmu)(replace(item, response=answer), options)
        if alone.correct == ours.correct:
            return "reads_thought"
    if item.family == "mmmu" and not item.is_choice:
        return "open_as_choice"
    if item.family == "mathvista" and not item.is_choice:
        if peer.correct and "_" in prediction_of(item, options):
            return "python_parse"
        if item.answer_type == "float" and peer.path == "needs_gpt" and peer.extracted is not None:
            return "precision"
    if peer.path == "no_match" or (peer.correct and ours.method in ("no_answer", "unmatched")):
        return shape_reason(peer, ours)
    return _PATH_REASONS.get(peer.path) or shape_reason(peer, ours)
