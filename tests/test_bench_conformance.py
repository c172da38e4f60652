"""Every benchmark, end to end on a small file in its real format: load → prompt → score → metric.

Each test writes the benchmark's file the way its source publishes it, loads it through the real
definition in benchmarks/, checks the prompt the model would see, scores known responses with the
verifier, and asserts the benchmark's own metric values, including its special cases.
"""

from __future__ import annotations

import csv
import os

import pytest

from bench_fixtures import decoded, image_list, image_struct, mcq_row, mmmu_row, png_base64, write_parquet, write_tsv
from bench_scoring import boxed, run, subjects, verdicts

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def approx(value: float) -> pytest.approx:
    return pytest.approx(value, abs=0.01)


def test_mmmu_val_reads_the_real_files_quirks(tmp_path):
    write_tsv(tmp_path / "MMMU_DEV_VAL.tsv", [
        mmmu_row("dev_Art_1", 1, "Dev item <image 1>", ["x", "y"], "A"),
        # As in the real validation_Geography_15: option D is the text "None", and it is the answer.
        mmmu_row("validation_Geography_15", 2, "Which of these\tregions\nhas no desert?",
                 ["Asia", "Africa", "N/A", "None"], "D"),
        mmmu_row("validation_Art_3", 3, "Compare <image 2> with <image 1>.", ["<image 3>", "neither"], "A",
                 image=image_list(31, 32, 33)),
        mmmu_row("validation_Art_4", 4, "Is <image 1> the same as <image 1> mirrored?", ["yes", "no"], "B",
                 image="2"),  # a repeated image is stored once: this row holds the index of row 2
        mmmu_row("validation_Math_5", 5, "What is the ratio shown in <image 1>?", [], "['24/7', '3.429']",
                 question_type="open"),
    ], quoting=csv.QUOTE_ALL)
    responses = {"validation_Geography_15": boxed("D"), "validation_Art_3": boxed("A"),
                 "validation_Art_4": boxed("A"), "validation_Math_5": boxed("24/7")}
    _, samples, prompts, figures, metrics = run("mmmu_val", tmp_path, responses)
    by_id = {s.id: s for s in samples}

    assert list(by_id) == ["validation_Geography_15", "validation_Art_3", "validation_Art_4", "validation_Math_5"]
    geography = by_id["validation_Geography_15"]
    assert geography.choices == {"A": "Asia", "B": "Africa", "C": "N/A", "D": "None"}
    assert (geography.answer, geography.answer_type) == ("D", "mcq")
    assert geography.question == "Which of these\tregions\nhas no desert?"
    assert prompts["validation_Geography_15"].startswith("Question: Which of these\tregions\nhas no desert?\nOptions:\n")
    assert "C. N/A\nD. None\n" in prompts["validation_Geography_15"]
    # One image per tag, in the order question then options name them.
    assert [image.tobytes() for image in by_id["validation_Art_3"].images] == [decoded(32), decoded(31), decoded(33)]
    assert [image.tobytes() for image in by_id["validation_Art_4"].images] == [decoded(2), decoded(2)]
    open_item = by_id["validation_Math_5"]
    assert (open_item.answer, open_item.meta["accepted_answers"]) == ("24/7", ["24/7", "3.429"])
    assert open_item.choices == {} and "Options" not in prompts["validation_Math_5"]
    assert [verdicts(tmp_path / "run-mmmu_val")[s.id]["correct"] for s in samples] == [True, True, False, True]
    assert subjects(figures) == {"Art": approx(50.0), "Geography": approx(100.0), "Math": approx(100.0)}


def test_mmmu_pro_standard_offers_ten_options(tmp_path):
    options = [f"option {i}" for i in range(10)]
    write_tsv(tmp_path / "MMMU_Pro_10c.tsv", [
        mcq_row(10, "Which applies?", options, "J", category="Physics"),
        mcq_row(11, "Which else?", options, "C", category="History"),
    ])
    _, samples, prompts, figures, metrics = run("mmmu_pro_standard", tmp_path, {"10": boxed("J"), "11": boxed("D")})

    assert list(samples[0].choices) == list("ABCDEFGHIJ")
    assert "J. option 9" in prompts["10"] and "\\boxed{}" in prompts["10"]
    assert subjects(figures) == {"History": approx(0.0), "Physics": approx(100.0)}


def test_mmmu_pro_vision_shows_only_the_screenshot_instruction(tmp_path):
    write_tsv(tmp_path / "MMMU_Pro_V.tsv", [
        mcq_row(20, "placeholder", ["red", "green", "blue", "cyan"], "C", category="Art"),
    ])
    _, samples, prompts, figures, metrics = run("mmmu_pro_vision", tmp_path, {"20": boxed("C")})

    assert prompts["20"].startswith("Answer the following multiple-choice question in the image.")
    assert "green" not in prompts["20"] and "placeholder" not in prompts["20"]
    assert samples[0].choices["C"] == "blue"
    assert subjects(figures) == {"Art": approx(100.0)}


def _emma_row(pid: str, subject: str, kind: str, question: str, answer: str, options: list[str],
              context: str = "", images: int = 1) -> dict:
    """One row of the publisher's EMMA-mini parquet files (luckychao/EMMA-mini, split test)."""
    row = {"pid": pid, "question": question, "options": options, "answer": answer, "solution": "",
           "subject": subject, "task": "", "category": "", "source": "", "type": kind, "context": context}
    row.update({f"image_{n}": image_struct(int(pid.split("_")[1]) * 10 + n) if n <= images else None
                for n in range(1, 6)})
    return row


def test_emma_mini_reads_the_publishers_parquet_and_orders_images_by_tag(tmp_path):
    write_parquet(tmp_path / "EMMA-mini_test.parquet", [
        _emma_row("chem_3", "Chemistry", "Multiple Choice", "Which molecule is chiral?", "B",
                  ["CH4", "<image_2>"], context="Consider <image_1>.", images=2),
        _emma_row("math_4", "Math", "Open-ended", "How many cubes are hidden in <image_1>?", "4", []),
    ])
    _, samples, prompts, figures, metrics = run("emma_mini", tmp_path, {"chem_3": boxed("B"), "math_4": boxed("5")})

    assert [(s.answer, s.answer_type) for s in samples] == [("B", "mcq"), ("4", "number")]
    assert [len(s.images) for s in samples] == [2, 1]
    assert prompts["chem_3"] == ("Consider <image_1>.\nWhich molecule is chiral?\nA: CH4\nB: <image_2>\n\n"
                                 "Answer with the option's letter from the given choices and put the letter in one "
                                 "\"\\boxed{}\". Please solve the problem step by step.")
    assert prompts["math_4"] == ("How many cubes are hidden in <image_1>?\nAnswer the question using a single word "
                                 "or phrase and put the answer in one \"\\boxed{}\". Please solve the problem "
                                 "step by step.")
    assert subjects(figures) == {"Chemistry": approx(100.0), "Math": approx(0.0)}


def test_mmk12_reads_hugging_face_parquet_with_image_structs(tmp_path):
    write_parquet(tmp_path / "MMK12_test.parquet", [
        {"id": "math_1", "subject": "math", "image": image_struct(40),
         "question": "What is x?\nA. 1\nB. 2\nC. 3\nD. 4", "answer": "C"},
        {"id": "bio_1", "subject": "biology", "image": image_struct(41),
         "question": "Which organelle?\nA. nucleus\nB. ribosome", "answer": "A"},
    ])
    _, samples, prompts, figures, metrics = run("mmk12", tmp_path, {"math_1": boxed("C"), "bio_1": boxed("B")})

    assert [len(s.images) for s in samples] == [1, 1] and samples[0].images[0].size == (24, 24)
    assert prompts["math_1"].startswith("What is x?\nA. 1") and "\\boxed{}" in prompts["math_1"]
    assert subjects(figures) == {"biology": approx(0.0), "math": approx(100.0)}


def test_mmstar_reports_core_and_fine_grained_capabilities(tmp_path):
    write_tsv(tmp_path / "MMStar.tsv", [
        mcq_row(50, "What is the man holding?", ["a cup", "a pen", "a phone", "a book"], "D",
                category="coarse perception", l2_category="image scene and topic", bench="SEEDBench"),
        mcq_row(51, "How many birds?", ["1", "2", "3", "4"], "B",
                category="fine-grained perception", l2_category="object counting", bench="MMBench"),
    ])
    _, _, prompts, figures, metrics = run("mmstar", tmp_path, {"50": boxed("D"), "51": boxed("C")})

    assert "Options:\nA. a cup\nB. a pen\nC. a phone\nD. a book\n" in prompts["50"]
    assert subjects(figures) == {"coarse perception": approx(100.0), "fine-grained perception": approx(0.0)}
    assert metrics["by_l2_category"] == {"image scene and topic": approx(100.0), "object counting": approx(0.0)}


def test_mmbench_circular_group_fails_when_one_rotation_fails(tmp_path):
    # Question 1 has four rotations (one answered wrongly); question 2 has two options, two rotations.
    rows = [
        mcq_row(1, "Which animal?", ["cat", "dog", "cow", "fox"], "A", category="attribute", **{"l2-category": "p"}),
        {"index": 1000001, "question": "Which animal?", "A": "dog", "B": "cow", "C": "fox", "D": "cat",
         "answer": "D", "image": "1", "category": "attribute", "l2-category": "p"},
        {"index": 2000001, "question": "Which animal?", "A": "cow", "B": "fox", "C": "cat", "D": "dog",
         "answer": "C", "image": "1", "category": "attribute", "l2-category": "p"},
        {"index": 3000001, "question": "Which animal?", "A": "fox", "B": "cat", "C": "dog", "D": "cow",
         "answer": "B", "image": "1", "category": "attribute", "l2-category": "p"},
        mcq_row(2, "Is it day?", ["yes", "no"], "B", category="scene", **{"l2-category": "q"},
                hint="Look at the sky."),
        {"index": 1000002, "question": "Is it day?", "A": "no", "B": "yes", "answer": "A", "image": "2",
         "category": "scene", "l2-category": "q", "hint": "Look at the sky."},
    ]
    write_tsv(tmp_path / "MMBench_DEV_EN_V11.tsv", rows)
    responses = {"1": boxed("A"), "1000001": boxed("D"), "2000001": boxed("A"), "3000001": boxed("B"),
                 "2": boxed("B"), "1000002": boxed("A")}
    _, samples, prompts, figures, metrics = run("mmbench_en_v11", tmp_path, responses)

    by_id = {s.id: s for s in samples}
    assert by_id["2000001"].meta["circular_group"] == 1 and by_id["2000001"].meta["rotation"] == 2
    assert by_id["3000001"].images[0].tobytes() == by_id["1"].images[0].tobytes()
    assert "C" not in by_id["2"].choices
    assert prompts["1000002"].startswith("Hint: Look at the sky.\nQuestion: Is it day?\nOptions:\nA. no\nB. yes\n")
    assert metrics["circular_accuracy"] == approx(50.0)
    assert metrics["single_pass_accuracy"] == approx(100.0)
    assert metrics["by_category"] == {"attribute": approx(0.0), "scene": approx(100.0)}


def test_hallusionbench_figure_pair_half_right(tmp_path):
    # Set 1 asks questions 0 and 1 about figure 0 (original) and figure 1 (edited); question 0 is
    # answered right on the original and wrong on the edit.
    write_tsv(tmp_path / "HallusionBench.tsv", [
        {"index": "VD_figure_0_1_0_0", "question": "Is the tower taller than the tree?", "answer": "Yes",
         "category": "VD", "l2-category": "figure", "image": png_base64(60)},
        {"index": "VD_figure_0_1_1_0", "question": "Is the tower taller than the tree?", "answer": "No",
         "category": "VD", "l2-category": "figure", "image": png_base64(61)},
        {"index": "VD_figure_0_1_0_1", "question": "Is there a tree?", "answer": "Yes",
         "category": "VD", "l2-category": "figure", "image": png_base64(60)},
        {"index": "VD_figure_0_1_1_1", "question": "Is there a tree?", "answer": "Yes",
         "category": "VD", "l2-category": "figure", "image": png_base64(61)},
        {"index": "VS_chart_0_2_0_0", "question": "Did sales fall in 2020?", "answer": "No",
         "category": "VS", "l2-category": "chart", "image": png_base64(62)},
    ])
    responses = {"VD_figure_0_1_0_0": boxed("Yes"), "VD_figure_0_1_1_0": boxed("Yes"),
                 "VD_figure_0_1_0_1": boxed("Yes"), "VD_figure_0_1_1_1": boxed("yes"),
                 "VS_chart_0_2_0_0": boxed("No")}
    _, samples, prompts, figures, metrics = run("hallusionbench", tmp_path, responses)

    assert samples[1].meta | {"set_id": "1", "figure_id": "1", "question_id": "0"} == samples[1].meta
    assert "Please answer yes or no" in prompts["VS_chart_0_2_0_0"]
    assert metrics["aAcc"] == approx(80.0)
    assert metrics["fAcc"] == approx(200 / 3)
    assert metrics["qAcc"] == approx(200 / 3)
    assert metrics["overall"] == approx((80 + 400 / 3) / 3)
    assert metrics["by_category_aAcc"] == {"VD": approx(75.0), "VS": approx(100.0)}
    assert metrics["by_category_qAcc"] == {"VD": approx(50.0), "VS": approx(100.0)}


def test_mathvista_maps_option_text_to_letters_and_tables_tasks_and_skills(tmp_path):
    write_tsv(tmp_path / "MathVista_MINI.tsv", [
        {"index": 1, "image": png_base64(70),
         "question": "Hint: Please answer the question and provide the correct option letter.\n"
                     "Question: What fraction of the shape is blue?\nChoices:\n(A) 3/11\n(B) 8/11\n(C) 6/11\n(D) 3/5",
         "answer": "8/11", "answer_option": "B", "choices": "['3/11', '8/11', '6/11', '3/5']",
         "question_type": "multi_choice", "answer_type": "text", "task": "figure question answering",
         "skills": "['arithmetic reasoning', 'statistical reasoning']"},
        {"index": 2, "image": png_base64(71), "question": "Question: Which number is missing?",
         "answer": "14", "answer_option": "", "choices": "", "question_type": "free_form",
         "answer_type": "integer", "precision": "", "task": "math word problem",
         "skills": "['arithmetic reasoning']"},
    ])
    _, samples, prompts, figures, metrics = run("mathvista_testmini", tmp_path, {"1": boxed("B"), "2": boxed("15")})

    assert (samples[0].answer, samples[0].answer_type, samples[0].choices["B"]) == ("B", "mcq", "8/11")
    assert (samples[1].answer, samples[1].answer_type) == ("14", "number")
    assert prompts["1"].count("(B) 8/11") == 1 and "letter of the correct option" in prompts["1"]
    assert metrics["by_task"] == {"figure question answering": approx(100.0), "math word problem": approx(0.0)}
    assert metrics["by_skill"] == {"arithmetic reasoning": approx(50.0), "statistical reasoning": approx(100.0)}


def test_mathverse_vision_only_reads_literal_metadata(tmp_path):
    question = "According to the question shown in the image, please directly answer the question."
    write_tsv(tmp_path / "MathVerse_MINIVOnly.tsv", [
        {"index": 1, "image": png_base64(80), "question": question, "answer": "B", "question_type": "multi-choice",
         "problem_version": "Vision Only",
         "metadata": "{'split': 'testmini', 'source': 'GeoQA', 'subject': 'Plane Geometry', 'subfield': 'Length'}"},
        {"index": 2, "image": png_base64(81), "question": question, "answer": "5", "question_type": "free-form",
         "problem_version": "Vision Only",
         "metadata": "{'split': 'testmini', 'source': 'Geometry3K', 'subject': 'Plane Geometry', 'subfield': 'Area'}"},
    ])
    _, samples, prompts, figures, metrics = run("mathverse_vision_only", tmp_path, {"1": boxed("B"), "2": boxed("6")})

    assert [s.answer_type for s in samples] == ["mcq", "number"]
    assert samples[0].subject == "Length" and "metadata" not in samples[0].meta
    assert prompts["1"].startswith(question) and "\\boxed{}" in prompts["1"]
    assert metrics["by_problem_version"] == {"Vision Only": approx(50.0)}
    assert metrics["by_subfield"] == {"Area": approx(0.0), "Length": approx(100.0)}


def test_mathvision_lists_options_only_for_choice_problems(tmp_path):
    write_tsv(tmp_path / "MathVision.tsv", [
        {"index": 1, "image": png_base64(90), "question": "Which cube is different?",
         "choices": "['1', '2', '3', '4', '5']", "answer": "C", "category": "solid geometry"},
        {"index": 2, "image": png_base64(91), "question": "How many triangles are there?",
         "choices": "[]", "answer": "7", "category": "counting"},
    ])
    _, samples, prompts, figures, metrics = run("mathvision", tmp_path, {"1": boxed("C"), "2": boxed("8")})

    assert [s.answer_type for s in samples] == ["mcq", "number"]
    assert "(E) 5" in prompts["1"] and "Options" not in prompts["2"]
    assert subjects(figures) == {"counting": approx(0.0), "solid geometry": approx(100.0)}


def _wemath_rows(problem_id: str, steps: int, first_index: int) -> list[dict]:
    keys = [f"{steps}steps_{i}" for i in range(1, steps + 1)] + [f"{steps}steps_multi"]
    return [mcq_row(first_index + k, f"Problem {problem_id} part {key}", ["1", "2", "3", "4"], "A",
                    ID=problem_id, key=key, **{"knowledge concept": f"concept {problem_id}"})
            for k, key in enumerate(keys)]


def test_wemath_strict_and_loose_scores_follow_the_four_dimensions(tmp_path):
    rows = (_wemath_rows("p1", 2, 100) + _wemath_rows("p2", 3, 200)
            + _wemath_rows("p3", 2, 300) + _wemath_rows("p4", 2, 400))
    write_tsv(tmp_path / "WeMath.tsv", rows)
    right, wrong = boxed("A"), boxed("B")
    responses = {
        "100": right, "101": wrong, "102": right,                 # p1: one step wrong, composite right
        "200": right, "201": right, "202": right, "203": wrong,   # p2: all steps right, composite wrong
        "300": wrong, "301": wrong, "302": right,                 # p3: all steps wrong, composite right
        "400": right, "401": right, "402": right,                 # p4: complete mastery
    }
    _, samples, prompts, figures, metrics = run("wemath", tmp_path, responses)

    assert samples[0].meta["key"] == "2steps_1" and samples[0].meta["ID"] == "p1"
    assert prompts["100"].startswith("Question: Problem p1 part 2steps_1\nOptions:\nA. 1\n")
    assert metrics["inadequate_generalization"] == approx(25.0)
    assert metrics["insufficient_knowledge"] == approx(0.0)
    assert metrics["score_strict"] == approx(37.5)   # (4 - 0.5*1 - 2 - 0) / 4
    assert metrics["score_loose"] == approx(62.5)    # (4 - 0.5*1 - 1 - 0) / 4
    assert metrics["rote_memorization_strict"] == approx(200 / 3)
    assert metrics["one_step_accuracy"] == approx(600 / 9)  # 6 of 9 one-step parts right
    assert (metrics["two_step_accuracy"], metrics["three_step_accuracy"]) == (approx(100.0), approx(0.0))


def test_visulogic_uses_its_own_answer_format(tmp_path):
    write_tsv(tmp_path / "VisuLogic.tsv", [
        {"index": "q1", "image": png_base64(110), "question": "Which option continues the sequence?\nA\nB\nC\nD",
         "answer": "A", "category": "Quantitative Reasoning"},
        {"index": "q2", "image": png_base64(111), "question": "Which shape is rotated?", "answer": "D",
         "category": "Spatial Reasoning"},
    ])
    _, _, prompts, figures, metrics = run("visulogic", tmp_path, {"q1": boxed("A"), "q2": boxed("D")})

    assert prompts["q1"].endswith("Answer: \\boxed{$LETTER}")
    assert subjects(figures) == {"Quantitative Reasoning": approx(100.0), "Spatial Reasoning": approx(100.0)}


def test_logicvista_accepts_answers_that_select_several_options(tmp_path):
    write_tsv(tmp_path / "LogicVista.tsv", [
        {"index": 1, "image": png_base64(120), "question": "Which figure comes next? A, B, C or D",
         "answer": "A", "skill": "inductive, spatial", "category": "patterns"},
        {"index": 2, "image": png_base64(121), "question": "Which statements are true? A, B, C or D",
         "answer": "C, A", "skill": "deductive", "category": "diagram"},
    ])
    _, samples, _, figures, metrics = run("logicvista", tmp_path, {"1": boxed("B"), "2": boxed("AC")})

    assert [(s.answer, s.answer_type) for s in samples] == [("A", "mcq"), ("AC", "text")]
    assert metrics["by_skill"] == {"deductive": approx(100.0), "inductive": approx(0.0), "spatial": approx(0.0)}


def test_mme_reasoning_separates_function_scored_puzzles(tmp_path):
    write_tsv(tmp_path / "MME_Reasoning.tsv", [
        {"index": 1, "image": str([png_base64(130), png_base64(131)]), "question": "Which piece fits? A-D",
         "answer": "b", "question_type": "choice", "function_id": "", "reasoning_type": "Inductive",
         "capability": "pattern analysis", "difficulty": "easy"},
        {"index": 2, "image": png_base64(132), "question": "How many moves are needed?", "answer": "12",
         "question_type": "open", "function_id": "", "reasoning_type": "Deductive",
         "capability": "planning", "difficulty": "hard"},
        {"index": 3, "image": png_base64(133), "question": "Fill the 4x4 sudoku.", "answer": "[[1, 2], [3, 4]]",
         "question_type": "open", "function_id": "calculate_answer_function_sudoku_4",
         "reasoning_type": "Deductive", "capability": "planning", "difficulty": "hard"},
    ])
    responses = {"1": boxed("B"), "2": boxed("12"), "3": boxed("[[2, 1], [4, 3]]")}
    _, samples, _, figures, metrics = run("mme_reasoning", tmp_path, responses)

    assert len(samples[0].images) == 2 and samples[0].answer == "B"
    assert [s.meta["rule_scorable"] for s in samples] == [True, True, False]
    assert metrics["by_reasoning_type"] == {"Deductive": approx(50.0), "Inductive": approx(100.0)}
    assert metrics["by_scoring"] == {"function_checker": approx(0.0), "rule": approx(100.0)}


def test_phyx_text_minimal_multiple_choice(tmp_path):
    write_tsv(tmp_path / "PhyX_mini_MC_TM.tsv", [
        {"index": 1, "image": png_base64(140), "answer": "A", "category": "Optics",
         "question": "What is the focal length?\nA: 10 cm\nB: 20 cm\nC: 30 cm\nD: 40 cm"},
        {"index": 2, "image": png_base64(141), "answer": "D", "category": "Mechanics",
         "question": "What is the tension?\nA: 1 N\nB: 2 N\nC: 3 N\nD: 4 N"},
    ])
    _, _, prompts, figures, metrics = run("phyx_mc_text_minimal", tmp_path, {"1": boxed("A"), "2": boxed("C")})

    assert prompts["1"].startswith("What is the focal length?\nA: 10 cm")
    assert subjects(figures) == {"Mechanics": approx(0.0), "Optics": approx(100.0)}


def test_seephys_asks_for_significant_figures_when_given(tmp_path):
    write_tsv(tmp_path / "SeePhys_total.tsv", [
        {"index": 1, "image": png_base64(150), "question": "Find g on this planet (m/s^2).", "answer": "9.81",
         "sig_figs": "3", "language": "English", "level": "High School", "subject": "Mechanics"},
        {"index": 2, "image": png_base64(151), "question": "How many field lines cross the loop?", "answer": "4",
         "sig_figs": "", "language": "English", "level": "Middle School", "subject": "Electromagnetism"},
    ])
    _, _, prompts, figures, metrics = run("seephys", tmp_path, {"1": boxed("9.81"), "2": boxed("5")})

    assert "retain 3 significant figures" in prompts["1"]
    assert "significant" not in prompts["2"]
    assert metrics["by_level"] == {"High School": approx(100.0), "Middle School": approx(0.0)}
