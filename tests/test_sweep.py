"""`harness sweep`: budgets derived from one long generation equal direct runs, token for token.

A real vLLM engine on the tiny model (its logits are rigged so that "</think>" and the end of turn
are likely, so some generations stop by themselves inside the budgets and others are cut).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.config import ConfigError, RunConfig, SamplingSettings, build_config
from harness.engines import Engine, EngineRequest, Feed
from harness.runner import run
from harness.rundir import RunDir
from harness.engines.shared_budget import SharedBudgetEngine
from harness.rundir import read_index
from harness.sweep import make_plan, run_sweep
from tests import sweep_fixtures

BUDGETS = [12, 40, 160]
COMPARED = ("token_ids", "text", "finish_reason", "forced", "think_tokens", "answer_tokens", "prompt_tokens", "seed")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sweep_fixtures.tiny_text_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def engine(model_dir: Path):
    return sweep_fixtures.vllm_engine(model_dir)


def base_config(model_dir: Path, **overrides) -> RunConfig:
    values = dict(model=str(model_dir), benchmarks=["sample"], limit=6, samples=2, dtype="float32",
                  family="chatml", seed=7)
    values.update(overrides)
    return build_config({}, values)


def generations(path: Path) -> dict:
    return {key: {field: row[field] for field in COMPARED} for key, row in RunDir(path).generations().items()}


def verdicts(path: Path) -> dict:
    return {(r["benchmark"], r["id"], r["sample_index"]): (r["extracted"], r["correct"], r["method"])
            for r in RunDir(path).scores()}


def direct_run(config: RunConfig, budget: int, policy: str, out: Path, engine) -> Path:
    return run(dataclasses.replace(config, budget=budget, budget_policy=policy, out=str(out)), progress=False,
               engine=engine)


def test_a_shorter_budget_is_served_as_the_prefix_of_a_longer_generation(engine, tmp_path):
    prompts = [f"<|im_start|>user\nWhat is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n<think>\n" for i in range(6)]
    sampling = SamplingSettings(temperature=1.0)
    shared = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")
    shared.generate([EngineRequest(p, 1000 + i, 300) for i, p in enumerate(prompts)], sampling)
    assert shared.take_usage()["engine_generated_tokens"] > 0
    for budget in (3, 7, 25, 90):
        requests = [EngineRequest(p, 1000 + i, budget) for i, p in enumerate(prompts)]
        served = shared.generate(requests, sampling)
        direct = engine.generate(requests, sampling)
        assert [o.token_ids for o in served] == [o.token_ids for o in direct]
        assert [o.text for o in served] == [o.text for o in direct]
        assert [o.finish_reason for o in served] == [o.finish_reason for o in direct]
    assert shared.take_usage()["engine_generated_tokens"] == 0


def test_a_longer_budget_than_generated_goes_to_the_engine(engine, tmp_path):
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    sampling = SamplingSettings(temperature=1.0)
    shared = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")
    first = shared.generate([EngineRequest(prompt, 5, 4)], sampling)[0]
    assert first.finish_reason == "length"
    longer = shared.generate([EngineRequest(prompt, 5, 30)], sampling)[0]
    assert shared.take_usage()["engine_generated_tokens"] == 4 + len(longer.token_ids)
    assert longer.token_ids[:4] == first.token_ids


def test_the_cache_never_serves_tokens_drawn_under_other_sampling_settings(engine, tmp_path):
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    shared = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")
    shared.generate([EngineRequest(prompt, 3, 40)], SamplingSettings())
    shared.take_usage()
    for other in (SamplingSettings(top_k=5), SamplingSettings(min_p=0.1), SamplingSettings(top_p=0.9),
                  SamplingSettings(temperature=0.7), SamplingSettings(banned_token_ids=(7,))):
        served = shared.generate([EngineRequest(prompt, 3, 10)], other)[0]
        assert shared.take_usage()["engine_generated_tokens"] == len(served.token_ids) > 0, other
    shared.generate([EngineRequest(prompt, 3, 10)], SamplingSettings())
    assert shared.take_usage()["engine_generated_tokens"] == 0  # the same settings are served from the cache


def test_the_cache_survives_a_restart(engine, tmp_path):
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    sampling = SamplingSettings(temperature=1.0)
    SharedBudgetEngine(engine, tmp_path / "cache.jsonl").generate([EngineRequest(prompt, 9, 50)], sampling)
    reopened = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")
    reopened.generate([EngineRequest(prompt, 9, 20)], sampling)
    assert reopened.take_usage()["engine_generated_tokens"] == 0


def test_an_answer_phase_from_token_ids_is_cached_apart_from_one_from_text(engine, tmp_path):
    """A continuation from a thought's tokens and one from its text are other requests (they can differ), so the
    cache keys them apart; a cache written before outputs carried their prompt's ids is still read."""
    prompt = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n"
    sampling = SamplingSettings(temperature=1.0)
    shared = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")
    first = shared.generate([EngineRequest(prompt, 5, 30)], sampling)[0]
    assert first.prompt_ids == engine._tokenize(prompt)  # the ids the engine fed, kept with the output
    text_only = EngineRequest(prompt + first.text, 6, 10)
    with_ids = EngineRequest(prompt + first.text, 6, 10, prompt_ids=first.prompt_ids + first.token_ids)
    shared.generate([text_only], sampling)
    shared.take_usage()
    shared.generate([with_ids], sampling)
    assert shared.take_usage()["engine_generated_tokens"] > 0, "the text continuation was served for the ids one"
    rows = [json.loads(line) for line in (tmp_path / "cache.jsonl").read_text().splitlines()]
    for row in rows:
        row["output"].pop("prompt_ids")  # as an older version wrote it
    (tmp_path / "old.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    reopened = SharedBudgetEngine(engine, tmp_path / "old.jsonl")
    served = reopened.generate([EngineRequest(prompt, 5, 20)], sampling)[0]
    assert reopened.take_usage()["engine_generated_tokens"] == 0 and served.prompt_ids is None
    assert served.token_ids == first.token_ids[:20]


class PullOrder(Engine):
    """The real engine with a window of two, noting when it takes each request from its feed and when each
    finishes (a wrapper around the real vLLM engine, to see when a request generated ahead reaches it)."""

    def __init__(self, engine, window: int = 2) -> None:
        self.engine, self.window, self.events = engine, window, []
        self.name, self.tokenizer, self.max_model_len = engine.name, engine.tokenizer, engine.max_model_len

    def stream(self, feed, sampling):
        events, seeds = self.events, {}

        class Noted(Feed):
            def pull(self):
                item = feed.pull()
                if item is not None:
                    seeds[item[0]] = item[1].seed
                    events.append(("taken", item[1].seed))
                return item

        window, self.engine.window = self.engine.window, self.window
        try:
            for tag, output in self.engine.stream(Noted(), sampling):
                events.append(("finished", seeds[tag]))
                yield tag, output
        finally:
            self.engine.window = window


def test_requests_derived_from_a_finished_one_go_to_the_engine_ahead_of_the_feed(engine, tmp_path):
    prompts = [f"<|im_start|>user\nWhat is {i} + {i}?<|im_end|>\n<|im_start|>assistant\n" for i in range(6)]
    sampling = SamplingSettings(temperature=1.0)
    order = PullOrder(engine)
    shared = SharedBudgetEngine(order, tmp_path / "cache.jsonl")
    shared.derive = lambda request, output: [] if request.seed >= 100 else [
        EngineRequest(request.prompt + output.text + " so", request.seed + 100, 8)]
    outputs = shared.generate([EngineRequest(p, i, 16) for i, p in enumerate(prompts)], sampling)
    assert len(outputs) == len(prompts)  # only the requests asked for are handed back
    usage, ahead = shared.take_usage(), shared.take_ahead_usage()
    assert usage["engine_generated_tokens"] == sum(len(o.token_ids) for o in outputs)
    assert ahead["requests"] == len(prompts) and ahead["engine_generated_tokens"] > 0
    # Each derived request reaches the engine before any request of the feed taken after its parent finished.
    assert sorted(seed for event, seed in order.events if event == "taken") == \
        list(range(len(prompts))) + [100 + i for i in range(len(prompts))]
    waiting: set[int] = set()
    for event, seed in order.events:
        if event == "finished" and seed < 100:
            waiting.add(seed + 100)
        elif event == "taken" and seed >= 100:
            waiting.remove(seed)
        elif event == "taken":
            assert not waiting, f"request {seed} taken while derived requests {waiting} waited"
    # The derived outputs are in the cache: asked for now, they cost nothing.
    again = shared.generate([EngineRequest(p + o.text + " so", i + 100, 8) for i, (p, o) in
                             enumerate(zip(prompts, outputs))], sampling)
    assert shared.take_usage()["engine_generated_tokens"] == 0 and len(again) == len(prompts)
    reopened = SharedBudgetEngine(engine, tmp_path / "cache.jsonl")  # and on disk
    reopened.generate([EngineRequest(prompts[0] + outputs[0].text + " so", 100, 8)], sampling)
    assert reopened.take_usage()["engine_generated_tokens"] == 0


@pytest.mark.slow
def test_cap_sweep_equals_direct_runs_token_for_token(engine, model_dir, tmp_path):
    config = base_config(model_dir)
    plan = make_plan(config, "slow,nowait", BUDGETS, "cap", tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    index = read_index(tmp_path / "sweep")
    truncated = 0
    for mode in ("slow", "nowait"):
        for budget in BUDGETS:
            derived = tmp_path / "sweep" / f"{mode}-b{budget}"
            direct = direct_run(dataclasses.replace(config, mode=mode), budget, "cap", tmp_path / f"direct-{mode}-{budget}",
                                engine)
            assert generations(derived) == generations(direct), f"{mode} budget {budget}"
            assert verdicts(derived) == verdicts(direct)
            truncated += sum(g["finish_reason"] == "length" for g in generations(derived).values())
    assert truncated > 0  # some generations were really cut, so the prefix rule was exercised
    assert index["cost"]["ratio_to_largest"] == pytest.approx(1.0)
    assert {(e["mode"], e["budget"]) for e in index["runs"]} == {(m, b) for m in ("slow", "nowait") for b in BUDGETS}


@pytest.mark.slow
def test_force_sweep_equals_direct_runs_token_for_token(engine, model_dir, tmp_path):
    config = base_config(model_dir, answer_budget=24)
    plan = make_plan(config, ["slow"], BUDGETS, "force", tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    forced = 0
    for budget in BUDGETS:
        derived = tmp_path / "sweep" / f"slow-b{budget}f"
        direct = direct_run(config, budget, "force", tmp_path / f"direct-{budget}", engine)
        assert generations(derived) == generations(direct), f"budget {budget}"
        forced += sum(g["forced"] for g in generations(derived).values())
    assert forced > 0
    # The smaller budgets' answers were generated ahead, each queued as the largest run's thought ended; their
    # runs found them all on hand.
    index = read_index(tmp_path / "sweep")
    (prefetch,) = index["prefetch"]
    assert prefetch["requests"] > 0 and prefetch["engine_generated_tokens"] > 0
    assert prefetch["during_largest_run"]["requests"] == prefetch["requests"]  # none was left for after it
    smaller = [e for e in index["runs"] if e["budget"] != BUDGETS[-1]]
    assert all(e["engine_generated_tokens"] == 0 for e in smaller)
    largest = next(e for e in index["runs"] if e["budget"] == BUDGETS[-1])
    assert index["cost"]["engine_generated_tokens"] == \
        largest["engine_generated_tokens"] + prefetch["engine_generated_tokens"]
    # Each forced answer was generated once: as many as the smaller budgets' forced generations hold.
    answers = sum(g["answer_tokens"] for e in smaller
                  for g in generations(tmp_path / "sweep" / e["dir"]).values() if g["forced"])
    assert prefetch["engine_generated_tokens"] == answers


@pytest.mark.slow
def test_a_nothink_mode_in_a_force_sweep_is_capped(engine, model_dir, tmp_path):
    plan = make_plan(base_config(model_dir, limit=2, samples=1), "nothink", [8, 16], "force", tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    manifest = RunDir(tmp_path / "sweep" / "nothink-b8").manifest()
    assert manifest["config"]["budget_policy"] == "cap"


@pytest.mark.slow
def test_each_sweep_run_directory_resumes_as_a_plain_run(engine, model_dir, tmp_path):
    config = base_config(model_dir, limit=3, samples=1)
    run_sweep(make_plan(config, "slow", [10, 30], "cap", tmp_path / "sweep"), engine=engine, progress=False)
    derived = tmp_path / "sweep" / "slow-b10"
    assert RunDir(derived).manifest()["sweep"]["shared_from_budget"] == 30
    before = (derived / "generations.jsonl").read_text()
    direct_run(config, 10, "cap", derived, engine)  # the same settings: accepted, nothing left to generate
    assert (derived / "generations.jsonl").read_text() == before
    assert RunDir(derived).manifest()["comparable"]["budget"] == 10


@pytest.mark.slow
def test_a_resumed_sweep_generates_nothing_new(engine, model_dir, tmp_path):
    plan = make_plan(base_config(model_dir, limit=3, samples=1), "slow", [10, 30], "cap", tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    run_sweep(plan, engine=engine, progress=False)
    index = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert index["invocations"][0]["engine_generated_tokens"] > 0
    assert index["invocations"][1]["engine_generated_tokens"] == 0


def test_a_sweep_directory_made_with_other_settings_is_refused(engine, model_dir, tmp_path):
    plan = make_plan(base_config(model_dir, limit=1, samples=1), "slow", [4, 8], "cap", tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    other = make_plan(base_config(model_dir, limit=1, samples=1, temperature=0.5), "slow", [4, 8], "cap",
                      tmp_path / "sweep")
    with pytest.raises(ConfigError, match="temperature"):
        run_sweep(other, engine=engine, progress=False)


@pytest.mark.parametrize("modes, budgets, message", [
    ("slow,fast", "8,16", "'fast' is not a mode"),
    ("slow,slow", "8,16", "repeats a mode"),
    ("slow", "8,8", "repeats a budget"),
    ("slow", "8,-1", "not a positive"),
    ("slow", "8,many", "'many' is not an integer"),
    ("", "8", "--modes"),
])
def test_bad_sweep_settings_are_named(modes, budgets, message):
    with pytest.raises(ConfigError, match=message):
        make_plan(RunConfig(), modes, budgets, "cap", None)


def test_the_sweep_command_refuses_a_single_budget_flag():
    from harness.cli import main

    assert main(["sweep", "--modes", "slow", "--budgets", "8,16", "--budget", "8", "--quiet"]) == 2


def test_the_report_of_a_sweep_directory_draws_its_budget_curves(engine, model_dir, tmp_path):
    from harness.cli import main as cli

    plan = make_plan(base_config(model_dir, limit=3, samples=1), "slow,nothink", [10, 20, 30], "cap",
                     tmp_path / "sweep")
    run_sweep(plan, engine=engine, progress=False)
    assert cli(["report", str(tmp_path / "sweep")]) == 0
    html = (tmp_path / "sweep" / "report.html").read_text()
    # the modes x budgets section leads the page, before the per-run sections
    section = html[html.index('id="modes"'):html.index('id="run-1"')]
    assert section.count("<svg") == 1  # accuracy against budget: slow and nothink over three budgets
    assert all(f">{budget}<" in section for budget in (10, 20, 30))
    cost = read_index(tmp_path / "sweep")["cost"]
    assert f"generated {cost['engine_generated_tokens']:,} tokens" in section
    assert html.count('class="run"') == 6  # one section per (mode, budget) run directory
    # A derived run's speed is not its cached tokens over no time: it generated nothing, and says so.
    derived = json.loads((tmp_path / "sweep" / "slow-b10" / "summary.json").read_text())["throughput"]
    assert derived["engine_generated_tokens"] == 0 and derived["shared_tokens"] == derived["generated_tokens"] > 0
    assert "tokens_per_s" not in derived
    assert f"{derived['shared_tokens']:,} of {derived['generated_tokens']:,} tokens served from a longer run" in html
    largest = json.loads((tmp_path / "sweep" / "slow-b30" / "summary.json").read_text())["throughput"]
    assert largest["tokens_per_s"] == pytest.approx(largest["engine_generated_tokens"] / largest["generate_s"])
