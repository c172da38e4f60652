"""A finished request's text, decoded once from its token ids, as vLLM's engine loop would have made it.

vLLM detokenizes every request token by token as it generates (to check stop strings and stream text),
which on a fast engine costs more than the model: about 7% of a whole run of the tiny test model on
CPU, in the process that also feeds the engine. A harness run needs each text only when its request
ends, so the vLLM engine asks for no detokenization (`detokenize=False`), stops on the token of a stop
string that is one token of the vocabulary (`</think>` in a thinking model's vocabulary), and decodes the
finished ids here with the same tokenizer pipeline vLLM uses: a `tokenizers` `DecodeStream` primed
with the prompt's ids, with vLLM's settings (special tokens kept, no spaces added between added tokens).

Only the prompt's last `PRIME_TOKENS` ids prime the stream. A generated text depends on the prompt only
through the few tokens before it: a character whose bytes the prompt's last tokens began (at most three
byte tokens back), a word the decoder joins or a space it drops at a boundary (one or two tokens back). A
stream primed with all of it decodes the whole prompt again, which for an answer phase is its thought too:
up to thousands of tokens decoded a second time per answer. One case reaches further: a prompt whose text
ends in an incomplete character (never one the harness makes: its prompts end in whole text) leaves the
stream unprimed, and the output starts with the whole prompt's text, so such a prompt primes in full.

The result is vLLM's text in every case, the rare ones included:
- an output whose last character is still incomplete (a cut multi-byte character) keeps only its
  complete characters, as incremental decoding does;
- two added tokens in a row are joined without a space, as vLLM does under
  `spaces_between_special_tokens=False` (a WordPiece decoder would otherwise put one between them);
- a stop string the model spelled out of several tokens (`</` `think>`) ends the request where vLLM's
  stop-string check would have: the tokens after the one completing it are dropped and the text ends
  with the stop string;
- a tokenizer whose text stops extending its earlier text starts a fresh stream, as vLLM does.
These take the token-by-token path below; the common case is a single call into the tokenizer.
`tests/test_detokenize.py` compares both paths with vLLM's own incremental detokenizer.
"""

from __future__ import annotations

from typing import Any

from tokenizers import Tokenizer
from tokenizers.decoders import DecodeStream

# The error `tokenizers` raises when a stream's text stops extending its earlier text.
INVALID_PREFIX = "Invalid prefix encountered"
# How many of the prompt's last ids prime a stream: far more than any decoder looks back (see above).
PRIME_TOKENS = 32


def rust_tokenizer(tokenizer: Any) -> Tokenizer | None:
    """The `tokenizers` pipeline behind a fast tokenizer, where vLLM's engine would detokenize with it
    (its `FastIncrementalDetokenizer`); None for any other tokenizer, whose texts vLLM keeps making."""
    try:
        from vllm.v1.engine.detokenizer import uses_fast_detokenizer
    except ImportError:  # another vLLM layout: leave detokenization to vLLM
        return None
    backend = getattr(tokenizer, "_tokenizer", None)
    return backend if uses_fast_detokenizer(tokenizer) and isinstance(backend, Tokenizer) else None


class Detokenizer:
    """Decodes finished outputs for one tokenizer (see the module's docstring)."""

    def __init__(self, backend: Tokenizer) -> None:
        self.backend = backend
        self.added = {token_id: token.content for token_id, token in backend.get_added_tokens_decoder().items()}

    def stop_token_ids(self, stops: list[str]) -> list[int] | None:
        """Each stop string's single token id, or None when any of them is not exactly one token (vLLM then
        has to check the text as it grows)."""
        ids = []
        for stop in stops:
            encoded = self.backend.encode(stop, add_special_tokens=False).ids
            if len(encoded) != 1 or self.backend.decode(encoded, skip_special_tokens=False) != stop:
                return None
            ids.append(encoded[0])
        return ids

    def decode(self, prompt_ids: list[int], token_ids: list[int], stops: list[str] = ()
               ) -> tuple[list[int], str, str | None]:
        """(token ids, text, the stop string that ended the request or None) for a finished request that
        generated `token_ids` after `prompt_ids`, stopping on the stop strings' tokens."""
        token_ids = list(token_ids)
        if not token_ids:
            return token_ids, "", None
        text = None
        if not self._added_in_a_row(token_ids):
            try:
                text = DecodeStream(ids=self._priming(prompt_ids), skip_special_tokens=False).step(self.backend,
                                                                                                   token_ids)
            except Exception:  # noqa: BLE001 -- whatever the tokenizer refuses, the token-by-token path handles
                text = None
        if text is not None:
            if not stops:
                return token_ids, text, None
            ended_by = self._ended_by(token_ids, text, stops)
            if ended_by is not False:
                return token_ids, text, ended_by
        return self._token_by_token(prompt_ids, token_ids, stops)

    def _priming(self, prompt_ids: list[int]) -> list[int]:
        """The prompt ids a stream starts from: the last `PRIME_TOKENS`, or all where their text ends in an incomplete
        character (the module's docstring says why)."""
        window = list(prompt_ids[-PRIME_TOKENS:])
        if len(window) == len(prompt_ids) or not self.backend.decode(window, skip_special_tokens=False).endswith(
                "\ufffd"):
            return window
        return list(prompt_ids)

    def _added_in_a_row(self, token_ids: list[int]) -> bool:
        if len(self.added.keys() & set(token_ids)) == 0:
            return False
        return any(a in self.added and b in self.added for a, b in zip(token_ids, token_ids[1:]))

    def _ended_by(self, token_ids: list[int], text: str, stops: list[str]) -> str | None | bool:
        """The stop string the text ends with through its last token (the request stopped on that token),
        None when no stop string is in the text, False when one is in it some other way (spelled out of
        several tokens, or before the end): the token-by-token check decides that case."""
        found = [stop for stop in stops if stop in text]
        if not found:
            return None
        last = self.backend.decode([token_ids[-1]], skip_special_tokens=False)
        for stop in found:
            if last == stop and text.find(stop) == len(text) - len(stop):
                return stop
        return False

    def _token_by_token(self, prompt_ids: list[int], token_ids: list[int], stops: list[str]
                        ) -> tuple[list[int], str, str | None]:
        """vLLM's incremental loop: a token's text at a time, consecutive added tokens joined as they are, and
        after each token the stop strings checked in order (the first found ends the request just past it)."""
        stream = DecodeStream(ids=self._priming(prompt_ids), skip_special_tokens=False)
        text = ""
        last_added = False
        for count, token_id in enumerate(token_ids, start=1):
            try:
                piece = stream.step(self.backend, token_id) or ""
            except (OverflowError, TypeError):  # vLLM logs an invalid token id and gives it no text
                piece = ""
            except Exception as error:
                if not str(error).startswith(INVALID_PREFIX):
                    raise
                # A tokenizer whose text is not monotone in its ids: vLLM starts a fresh stream (no prompt).
                stream = DecodeStream(skip_special_tokens=False)
                piece = stream.step(self.backend, token_id) or ""
            content = self.added.get(token_id)
            if content is not None and last_added:
                piece = content
            last_added = content is not None
            start = len(text)
            text += piece
            for stop in stops:
                index = text.find(stop, max(0, start - len(stop) + 1))
                if index != -1:
                    return token_ids[:count], text[:index + len(stop)], stop
        return token_ids, text, None


__all__ = ["Detokenizer", "rust_tokenizer"]
