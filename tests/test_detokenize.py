"""Texts decoded once a request ends (`harness.engines.detokenize`) against vLLM's own incremental detokenizer.

The reference is vLLM's `FastIncrementalDetokenizer`, the class its engine loop runs, fed one token at a time
with the harness's settings (special tokens kept, no spaces between added tokens, the stop string kept in
the output), stopping where its stop-string check says. Four real tokenizer pipelines: the tiny test
model's byte-level BPE (`</think>` one added token), SmolLM2's (`</think>` several tokens), a
Metaspace (SentencePiece-style) BPE built here, whose decoder turns a leading "▁" into a space and drops
it at the start of a text, and a WordPiece, whose decoder puts spaces between tokens. The token
sequences are the hard ones: random ids (invalid and cut UTF-8),
added tokens in a row, the stop token at the end, and the stop string spelled out of ordinary tokens; and
prompts longer than the ids that prime the decoding, ending where the text that follows depends on them.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from harness.engines import EngineRequest
from harness.engines.detokenize import PRIME_TOKENS, Detokenizer, rust_tokenizer
from harness.engines.generate import GenerationSettings, generate
from harness.modes import THINK_CLOSE
from tiny_models import _corpus, build_tokenizer
from test_core_engines import _jobs, _prompt

STOPS = [THINK_CLOSE]
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]


def metaspace_tokenizer() -> PreTrainedTokenizerFast:
    """A SentencePiece-style BPE (Metaspace pre-tokenizer and decoder) with ChatML specials."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    return _trained(backend, trainers.BpeTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False))


def wordpiece_tokenizer() -> PreTrainedTokenizerFast:
    """A WordPiece pipeline, whose decoder puts a space between tokens: added tokens in a row are where vLLM
    joins them without one."""
    backend = Tokenizer(models.WordPiece(unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece()
    return _trained(backend, trainers.WordPieceTrainer(vocab_size=400, special_tokens=SPECIALS, show_progress=False))


def _trained(backend: Tokenizer, trainer) -> PreTrainedTokenizerFast:
    backend.train_from_iterator(_corpus() + ["héllo wörld 你好 ünïcödé"], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIALS[1:])


def make_tokenizer(name: str, request):
    if name == "byte-level":
        return build_tokenizer()
    if name == "smollm2":
        return request.getfixturevalue("smollm2_tokenizer")
    return metaspace_tokenizer() if name == "metaspace" else wordpiece_tokenizer()


@pytest.fixture(scope="module", params=["byte-level", "smollm2", "metaspace", "wordpiece"])
def tokenizer(request):
    return make_tokenizer(request.param, request)


def vllm_text(tokenizer, prompt_ids: list[int], token_ids: list[int], stops: list[str], stopped_on_token: bool):
    """What vLLM's engine loop makes of these tokens: (token ids, text, stop string or None)."""
    from vllm import SamplingParams
    from vllm.v1.engine.detokenizer import FastIncrementalDetokenizer

    params = SamplingParams(stop=stops or None, include_stop_str_in_output=True, skip_special_tokens=False,
                            spaces_between_special_tokens=False)
    detokenizer = FastIncrementalDetokenizer(tokenizer, SimpleNamespace(request_id="r", prompt_token_ids=prompt_ids,
                                                                        sampling_params=params))
    stop = None
    for n, token_id in enumerate(token_ids):
        stop = detokenizer.update([token_id], stopped_on_token and n == len(token_ids) - 1)
        if stop:
            break
    return list(detokenizer.output_token_ids), detokenizer.get_next_output_text(True, False), stop


def ordinary_tokens(tokenizer, text: str) -> list[int] | None:
    """`text` spelled a character at a time out of the vocabulary's own pieces (not its added token)."""
    vocab = tokenizer.get_vocab()
    for pieces in ([c for c in text], [text[0]] + [f"##{c}" for c in text[1:]]):  # the second: WordPiece's
        if all(p in vocab for p in pieces) and tokenizer.decode([vocab[p] for p in pieces]) == text:
            return [vocab[p] for p in pieces]
    return None  # WordPiece's vocabulary has no continuation pieces for punctuation


def hard_sequences(tokenizer, seed: int = 0) -> list[tuple[list[int], list[int], bool]]:
    """(prompt ids, generated ids, ended on the stop token or EOS) for the cases that take each path."""
    rng = random.Random(seed)
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    added = sorted(tokenizer.get_added_vocab().values())
    think = encode(THINK_CLOSE)
    spelled = ordinary_tokens(tokenizer, THINK_CLOSE) or encode(" </ think >")  # WordPiece: a near miss
    prompts = [encode("<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n"),
               encode("Question: héllo 你好"), []]
    cut = encode(" 你好")[:-1]  # a multi-byte character cut in its middle (byte-level) or a byte piece
    cases = []
    for n in range(240):
        prompt = prompts[n % len(prompts)]
        body = [rng.randrange(len(tokenizer)) for _ in range(rng.randrange(1, 40))]
        kind = n % 8
        if kind == 1:
            body += think  # the thought closed by its token: the request stopped on it
        elif kind == 2:
            body[rng.randrange(len(body)):0] = spelled  # spelled out, then more tokens: stopped there in vLLM
        elif kind == 3:
            body += [rng.choice(added), rng.choice(added)]  # added tokens in a row
        elif kind == 4:
            body += cut
        elif kind == 5:
            body += encode(" The answer is 4.") + [tokenizer.eos_token_id]
        elif kind == 6:
            body = encode("Hmm, let me think.") + spelled + encode(" so 4")
        cases.append((prompt, body, kind in (1, 5)))
    # Prompts longer than the ids that prime a stream (an answer phase's: the prompt and its thought), ending where
    # the generated text's first characters depend on them: random ids (invalid UTF-8, sometimes a character
    # left incomplete), a character cut in its middle and completed by the first generated token, an added token.
    rest = encode(" 你好")[len(cut):]
    for n in range(60):
        thought = [rng.randrange(len(tokenizer)) for _ in range(rng.randrange(PRIME_TOKENS, 4 * PRIME_TOKENS))]
        prompt = prompts[0] + thought
        body = [rng.randrange(len(tokenizer)) for _ in range(rng.randrange(1, 20))]
        kind = n % 3
        if kind == 1:
            prompt, body = prompt + cut, rest + body
        elif kind == 2:
            prompt = prompt + [rng.choice(added)]
        cases.append((prompt, body, False))
    return cases


def test_texts_are_vllm_s_for_every_hard_case(tokenizer):
    backend = rust_tokenizer(tokenizer)
    assert backend is not None, "a fast tokenizer's pipeline is found"
    detokenizer = Detokenizer(backend)
    for stops in ([], STOPS):
        for prompt, body, stopped in hard_sequences(tokenizer):
            expected = vllm_text(tokenizer, prompt, body, stops, stopped)
            assert detokenizer.decode(prompt, body, stops) == expected, (prompt, body, stops)


@pytest.mark.parametrize("name", ["byte-level", "smollm2", "metaspace"])  # WordPiece cannot spell it out
def test_the_stop_string_spelled_out_ends_the_request_where_vllm_would(name, request):
    tokenizer = make_tokenizer(name, request)
    detokenizer = Detokenizer(rust_tokenizer(tokenizer))
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    before, after = encode("Hmm, 2 + 2 = 4"), encode(" and more thinking")
    spelled = ordinary_tokens(tokenizer, THINK_CLOSE)
    ids, text, stop = detokenizer.decode([], before + spelled + after, STOPS)
    assert stop == THINK_CLOSE and text.endswith(THINK_CLOSE) and ids == before + spelled
    assert (ids, text, stop) == vllm_text(tokenizer, [], before + spelled + after, STOPS, False)


def test_a_stop_string_is_a_stop_token_only_when_it_is_one_token(smollm2_tokenizer):
    tiny = build_tokenizer()
    assert Detokenizer(rust_tokenizer(tiny)).stop_token_ids(STOPS) == [tiny.convert_tokens_to_ids(THINK_CLOSE)]
    assert Detokenizer(rust_tokenizer(smollm2_tokenizer)).stop_token_ids(STOPS) is None  # vLLM checks the text
    assert Detokenizer(rust_tokenizer(smollm2_tokenizer)).stop_token_ids([]) == []


@pytest.mark.parametrize("policy", ["cap", "force"])
def test_the_engine_s_texts_equal_vllm_detokenizing_as_it_goes(vllm_text_engine, policy, monkeypatch):
    """Whole generations on the real engine, decoded at the end and by vLLM as it goes: the same."""
    engine = vllm_text_engine
    settings = GenerationSettings(mode="slow", budget=40, budget_policy=policy, answer_budget=12)
    jobs = _jobs(_prompt(True), 12, 3)
    phase_one = EngineRequest("x", 0, 4, stop=STOPS)
    params = engine._params(phase_one, {})
    assert params.detokenize is False and params.stop_token_ids  # this path is the one under test
    at_the_end = generate(engine, jobs, settings)
    monkeypatch.setattr(engine, "_detokenizer", None)
    assert engine._params(phase_one, {}).detokenize is True
    as_it_goes = generate(engine, jobs, settings)
    fields = lambda g: (g.text, g.token_ids, g.finish_reason, g.forced, g.think_tokens, g.answer_tokens)  # noqa: E731
    assert [fields(g) for g in at_the_end] == [fields(g) for g in as_it_goes]
    assert any(THINK_CLOSE in g.text for g in at_the_end)
