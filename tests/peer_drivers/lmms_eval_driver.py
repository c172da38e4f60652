"""Runs lmms-eval 0.7.3's own MMMU and MathVista scoring on documents read from stdin (JSON lines).

Run by the Python of lmms-eval's own virtual environment (tests/peer_envs.py), never imported by
the harness. lmms-eval's task modules are loaded without running `lmms_eval/tasks/__init__.py` (its
task registry needs the whole evaluation stack); MathVista's GPT extractor client is replaced by
one whose every request fails, as it does with no GPT configured (none can be reached here): the
rest of the scoring path is lmms-eval's.

Each output line: {"key", "correct", "parsed"} (MMMU: the parsed letter or open-answer candidates;
MathVista: the normalised prediction).
"""

import importlib.util
import json
import random
import sys
import types

# lmms-eval's command-line default for --reasoning_tags, applied before any task scores.
DEFAULT_REASONING_TAGS = [["<think>", "</think>"], ["<analysis>", "</analysis>"]]


def _load_task_modules():
    root = importlib.util.find_spec("lmms_eval").submodule_search_locations[0]
    tasks = types.ModuleType("lmms_eval.tasks")
    tasks.__path__ = [root + "/tasks"]
    sys.modules["lmms_eval.tasks"] = tasks

    class ServerConfig:
        def __init__(self, **settings):
            self.__dict__.update(settings)

    class Request(ServerConfig):
        pass

    class UnreachableServer:
        def evaluate(self, request):
            return types.SimpleNamespace(success=False, content="", error="no GPT extractor configured")

    judge = types.ModuleType("lmms_eval.llm_judge")
    judge.ServerConfig, judge.Request = ServerConfig, Request
    judge.get_server = lambda server_name, config=None: UnreachableServer()
    sys.modules["lmms_eval.llm_judge"] = judge

    from loguru import logger

    logger.remove()  # the failing extractor logs every retry
    from lmms_eval.api.reasoning import strip_reasoning_tags
    import lmms_eval.tasks.mathvista.utils as mathvista
    import lmms_eval.tasks.mmmu.utils as mmmu

    return strip_reasoning_tags, mmmu, mathvista


def main() -> None:
    seed = int(sys.argv[1])
    strip_reasoning_tags, mmmu, mathvista = _load_task_modules()
    random.seed(seed)  # as lmms-eval's evaluator seeds Python's random before the run
    for line in sys.stdin:
        doc = json.loads(line)
        response = strip_reasoning_tags(doc.pop("response"), DEFAULT_REASONING_TAGS)
        key = doc.pop("key")
        if doc.pop("family") == "mmmu":
            result = mmmu.mmmu_process_results(doc, [response])["mmmu_acc"]
            judged, _ = mmmu.evaluate_mmmu([result])
            out = {"key": key, "correct": judged[doc["id"]] == "Correct", "parsed": result["parsed_pred"][0]}
        else:
            result = mathvista.mathvista_process_results(doc, [response])["llm_as_judge_eval"]
            out = {"key": key, "correct": bool(result["true_false"]), "parsed": result["prediction"]}
        sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
