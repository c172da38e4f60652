"""Image items through the server engine and the Ray executor, checked against the offline vLLM engine.

The tiny Qwen2.5-VL model is served by a real vLLM server on loopback (started by the helper users
get, `harness.engines.server.start_vllm_server`) and run by Ray Data's vLLM stage on a local CPU Ray cluster.
Both must give the very tokens the in-process engine gives for the same prompt, image and seed, and a
whole run over the `sample` benchmark's image items must write the same generations.
"""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest
from PIL import Image

from harness.config import RunConfig
from harness.engines import EngineRequest, SamplingSettings, create_engine
from harness.engines.openai_engine import EngineError, OpenAIEngine
from harness.prompts import PromptBuilder
from harness.runner import run
from harness.engines.server import start_vllm_server
from harness.rundir import RunDir
from tests import sweep_fixtures

pytestmark = pytest.mark.slow

FIELDS = ("token_ids", "text", "finish_reason", "forced", "think_tokens", "answer_tokens")


def _noise(seed: int, size: tuple[int, int] = (56, 56)) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))


def _requests() -> list[EngineRequest]:
    one = PromptBuilder("qwen_vl").render("What is in the picture?", num_images=1, think=True)
    two = PromptBuilder("qwen_vl").render("Compare the two pictures.", num_images=2, think=False)
    return [
        EngineRequest(one, 7, 24, images=[_noise(1)]),
        EngineRequest(one, 8, 24, images=[Image.new("RGB", (56, 84), (10, 200, 30))], stop=["</think>"]),
        EngineRequest(two, 9, 24, images=[_noise(2), _noise(3, (84, 56))]),
        EngineRequest(one, 10, 24, images=[_noise(1)]),
    ]


def _outputs(outputs) -> list[tuple]:
    return [(o.token_ids, o.text, o.finish_reason, o.stopped_on, o.prompt_tokens) for o in outputs]


def _rows(path: Path) -> dict:
    return {key: {f: row[f] for f in FIELDS} for key, row in RunDir(path).generations().items()}


@pytest.fixture(scope="module")
def vl_server(tiny_vl_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    log = tmp_path_factory.mktemp("vl-server") / "server.log"
    args = ["--dtype", "float32", "--max-model-len", "2048", "--enforce-eager",
            "--limit-mm-per-prompt", json.dumps({"image": 2})]
    with start_vllm_server(str(tiny_vl_dir), args=args, log_path=log) as started:
        yield started


def test_the_server_engine_gives_the_offline_tokens_for_image_requests(vl_server, tiny_vl_dir, vllm_vl_engine):
    engine = OpenAIEngine(str(tiny_vl_dir), base_url=vl_server.base_url)
    try:
        served = engine.generate(_requests(), SamplingSettings(temperature=1.0))
    finally:
        engine.close()
    direct = vllm_vl_engine.generate(_requests(), SamplingSettings(temperature=1.0))
    assert _outputs(served) == _outputs(direct)
    # The images reached the model: the same image and seed repeat, a different image changes the output.
    greedy = OpenAIEngine(str(tiny_vl_dir), base_url=vl_server.base_url)
    try:
        prompt = _requests()[0].prompt
        tokens = [o.token_ids for o in greedy.generate(
            [EngineRequest(prompt, 1, 8, images=[image]) for image in (_noise(4), _noise(5), _noise(4))],
            SamplingSettings(temperature=0.0))]
    finally:
        greedy.close()
    assert tokens[0] == tokens[2]
    assert tokens[0] != tokens[1], "a different image must change the greedy output"


def test_a_prompt_whose_placeholders_do_not_match_its_images_is_refused(vl_server, tiny_vl_dir):
    engine = OpenAIEngine(str(tiny_vl_dir), base_url=vl_server.base_url)
    prompt = PromptBuilder("qwen_vl").render("Two?", num_images=2, think=False)
    try:
        with pytest.raises(EngineError, match="2 image placeholders .* carries 1 images"):
            engine.generate([EngineRequest(prompt, 1, 4, images=[_noise(1)])], SamplingSettings())
    finally:
        engine.close()


def test_a_run_with_image_items_through_the_server_equals_the_offline_run(vl_server, tiny_vl_dir, vllm_vl_engine,
                                                                           tmp_path):
    config = RunConfig(model=str(tiny_vl_dir), benchmarks=["sample"], limit=6, samples=2, budget=20,
                       budget_policy="force", answer_budget=8, mode="nowait", family="qwen_vl", seed=4)
    offline = run(dataclasses.replace(config, out=str(tmp_path / "offline")), progress=False, engine=vllm_vl_engine)
    served = run(dataclasses.replace(config, engine="openai", engine_url=vl_server.base_url,
                                     out=str(tmp_path / "served")), progress=False)
    items = [json.loads(line) for line in (served / "items.jsonl").read_text().splitlines()]
    assert sum(1 for item in items if item["thumbnails"]) >= 2, "the run must include image items"
    assert _rows(served) == _rows(offline)


def test_the_ray_executor_gives_the_offline_tokens_for_image_requests(tiny_vl_dir, vllm_vl_engine):
    pytest.importorskip("ray.data.llm", reason="the ray extra (ray[data]) is not installed")
    ray_engine = create_engine(
        "ray", str(tiny_vl_dir), dtype="float32", max_model_len=2048, max_images=2,
        engine_args={"enforce_eager": True, "placement_group_config": {"bundles": [{"CPU": 1}]},
                     "runtime_env": {"env_vars": dict(sweep_fixtures.FAST_VLLM_ENV)}})
    try:
        through_ray = ray_engine.generate(_requests(), SamplingSettings(temperature=1.0))
    finally:
        ray_engine.close()
    direct = vllm_vl_engine.generate(_requests(), SamplingSettings(temperature=1.0))
    assert _outputs(through_ray) == _outputs(direct)


def test_a_started_server_gets_an_image_limit_only_for_a_vision_model(tiny_vl_dir, tiny_text_dir, tmp_path):
    from harness.engines.openai_engine import _vision

    assert _vision(str(tiny_vl_dir), False)
    assert not _vision(str(tiny_text_dir), False)
    assert not _vision(str(tmp_path), False)  # no config at all: the server will say what is wrong
