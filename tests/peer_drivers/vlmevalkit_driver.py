"""Runs VLMEvalKit's (ms-vlmeval 0.0.20) own MMMU and MathVista rule scoring on rows read from stdin.

Run by the Python of VLMEvalKit's own virtual environment (tests/peer_envs.py), never imported by
the harness. The `vlmeval` package's `__init__` is not run: it turns off TLS certificate checks for
the whole process and loads a `.env` of API keys; its scoring modules are loaded directly. MMMU goes
through `mcq_vanilla_eval` with exact matching (no judge model), as `ImageMCQDataset.evaluate` calls
it; MathVista through `MathVista_auxeval` and `post_check`, with a judge model whose every call
fails (VLMEvalKit's MathVista needs a GPT, and none can be reached here): the prefetch decides.

Each output line: {"key", "correct", "parsed"} (the letter can_infer gave, "Z" when none; for
MathVista the prefetched value, "" when the prefetch failed).
"""

import importlib.util
import json
import sys
import tempfile
import types
from pathlib import Path

import pandas as pd


def _load_scoring_modules():
    root = importlib.util.find_spec("vlmeval").submodule_search_locations[0]
    for name in ("vlmeval", "vlmeval.dataset", "vlmeval.dataset.utils"):
        package = types.ModuleType(name)
        package.__path__ = [root + name[len("vlmeval"):].replace(".", "/")]
        sys.modules[name] = package
    import vlmeval.dataset.utils.mathvista as mathvista
    import vlmeval.dataset.utils.multiple_choice as multiple_choice

    return multiple_choice, mathvista


class UnreachableJudge:
    def generate(self, prompt, **kwargs):
        return "Failed to obtain answer via API."


def score_mmmu(multiple_choice, rows):
    letters = [chr(ord("A") + i) for i in range(max([len(r["options"]) for r in rows] + [1]))]
    table = []
    for index, row in enumerate(rows):
        record = {"index": index, "question": "question", "answer": row["answer"], "prediction": row["prediction"]}
        for i, letter in enumerate(letters):
            record[letter] = row["options"][i] if i < len(row["options"]) else float("nan")
        table.append(record)
    data = pd.DataFrame(table)
    meta = pd.DataFrame({"index": list(range(len(rows))), "answer": [r["answer"] for r in rows]})
    with tempfile.TemporaryDirectory() as tmp:
        scored = multiple_choice.mcq_vanilla_eval(None, data.copy(), meta, 1, str(Path(tmp) / "result.pkl"),
                                                  "MMMU_DEV_VAL")
    hits = dict(zip(scored["index"], scored["hit"]))
    prepared = multiple_choice.MMMU_preproc(data.copy())
    out = []
    for index, row in enumerate(rows):
        item = prepared.iloc[index]
        letter = multiple_choice.extract_answer_from_item(None, item, "MMMU_DEV_VAL")["opt"]
        out.append({"key": row["key"], "correct": bool(hits[index]), "parsed": letter})
    return out


def score_mathvista(mathvista, rows):
    out = []
    for row in rows:
        line = pd.Series({"index": 0, "question": "question", "prediction": row["prediction"],
                          "question_type": row["question_type"], "answer_type": row["answer_type"],
                          "answer": row["answer"], "answer_option": row["answer_option"],
                          "choices": row["choices"]})
        result = mathvista.MathVista_auxeval(UnreachableJudge(), line)
        line["res"], line["log"] = result["res"], result["log"]
        res = result["res"]
        out.append({"key": row["key"], "correct": bool(mathvista.post_check(line, prefetch=False)),
                    "parsed": res if isinstance(res, str) else repr(res)})
    return out


def main() -> None:
    multiple_choice, mathvista = _load_scoring_modules()
    rows = [json.loads(line) for line in sys.stdin]
    mmmu = [r for r in rows if r["family"] == "mmmu"]
    results = {r["key"]: r for r in score_mmmu(multiple_choice, mmmu)} if mmmu else {}
    results.update({r["key"]: r for r in score_mathvista(mathvista, [r for r in rows if r["family"] == "mathvista"])})
    for row in rows:
        sys.stdout.write(json.dumps(results[row["key"]]) + "\n")


if __name__ == "__main__":
    main()
