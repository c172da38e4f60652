"""Why a peer's verdict differs from ours: one fixed vocabulary, and the checks every peer shares.

Each difference gets exactly one reason, the first that applies: what our verdict says (undecided,
hedge), what the peer did (a random or nearest-option fallback), what the response looks like (empty,
an unclosed thought), and then what the peer's own rules did, which each peer module names. The
keys are stable (they are counted in parity JSON, docs and perf results); the text explains them.
"""

from __future__ import annotations

from harness.modes import THINK_CLOSE, THINK_OPEN
from harness.types import Verdict
from harness.verify.parity.items import ParityItem
from harness.verify.parity.peer import PeerVerdict

REASONS: dict[str, str] = {
    "undecided_ours": "our verifier could not decide (timeout or judge error)",
    "random_fallback": "the peer found no option and drew one at random",
    "nearest_option": "with nothing extracted the peer takes the option nearest to an empty string (the shortest)",
    "needs_gpt": "the peer's rules read only a response that is exactly the answer; the rest needs its GPT extractor",
    "empty_response": "the response is empty",
    "unclosed_thought": "the thought never closed: ours takes only an explicitly marked answer, the peer reads it all",
    "hedge": "the final answer names several options or values (ours: wrong, method hedge)",
    "reads_thought": "the peer reads the thought too; on the final answer alone it agrees with ours",
    "union": "union inflation: the peer counts it right because one of its two scorers says so",
    "non_greedy_box": "the peer's non-greedy \\boxed{(.*?)} stops at the first '}' (nested braces or a box over lines)",
    "no_box": "the peer's rule needs a \\boxed{} answer",
    "literal": "the peer compares text or numbers literally (no units, fractions or symbolic equality)",
    "rounding": "numbers are compared after rounding to 2 decimals (ours: to the gold's written precision)",
    "key_phrase": "the peer's key phrase (the shortest tail after 'is', 'so', 'answer', ...) misses the answer",
    "option_text": "the peer matched an option's text inside the response",
    "letter_not_last": "the only option letter is not among the last words, so the peer finds none",
    "several_letters": "several option letters (a stray 'A' or 'I' counts), so the peer finds none",
    "long_response": "the response is too long for the peer's option-text match",
    "refusal": "a refusal phrase or a lone 'Z' makes the peer answer Z",
    "open_as_choice": "the open question is scored as two options: the gold text or 'Other Answers'",
    "last_letter": "several letters: the peer takes the last one written, ours the marked answer",
    "stray_letter": "a letter inside a word or used as a word ('DNA is', 'A cat', 'I think') counts as an option",
    "substring": "the gold text inside one of the peer's candidate phrases counts as correct",
    "number_candidates": "any number in the peer's key sentences may match the gold",
    "precision": "precision: exact float equality, or rounding with the data's float precision, which fails",
    "zero_answer": "a value of 0 reads as a failed prefetch",
    "letter_gold": "the gold is a letter that the peer compares as text",
    "ours_only": "ours reads an answer shape the peer's rules do not (a Chinese marker, a lower-case or LaTeX answer)",
    "peer_only": "the peer takes an unmarked letter or value that ours does not read as an answer",
    "python_parse": "the peer parses with Python's int() / float(), which accept '1_2', '+5' and padding",
    "other": "the rules differ in another way (compare the extractions)",
}


def unclosed_thought(item: ParityItem) -> bool:
    """The response opened a thought it never closed: its last `<think>` has no `</think>` after it,
    or it is known to start inside a thought and has no `</think>` at all."""
    text = item.response
    opened = text.rfind(THINK_OPEN)
    if opened >= 0 and text.find(THINK_CLOSE, opened) < 0:
        return True
    return item.thinking is True and THINK_CLOSE not in text


def answer_part(text: str) -> str | None:
    """The text after the last `</think>`, or None when there is no closed thought."""
    cut = text.rfind(THINK_CLOSE)
    return text[cut + len(THINK_CLOSE):] if cut >= 0 else None


def shape_reason(peer: PeerVerdict, ours: Verdict) -> str:
    """The last resort before "other": one side read an answer the other did not see at all."""
    if peer.correct and ours.method in ("no_answer", "unmatched"):
        return "peer_only"
    if ours.correct and peer.path in ("no_match", "needs_gpt", "none", "open_none"):
        return "ours_only"
    return "other"


def shared_reason(item: ParityItem, peer: PeerVerdict, ours: Verdict) -> str | None:
    """The reasons that come before any peer's own rules, or None."""
    if ours.correct is None:
        return "undecided_ours"
    if peer.random:
        return "random_fallback"
    if peer.path == "nearest_option":  # right by luck, or wrong for want of an extractor
        return "nearest_option" if peer.correct else "needs_gpt"
    if not item.response.strip():
        return "empty_response"
    if unclosed_thought(item):
        return "unclosed_thought"
    if ours.method == "hedge":
        return "hedge"
    return None
