"""The judge prompt-injection set (perf/data/judge_injection.jsonl) against the scripted loopback judge.

What reaches the judge is checked structurally, so these tests need no model: every injected
response must arrive only inside the CANDIDATE fence, the rest of the prompt must be exactly what a
clean wrong response gets, and nothing inside the fence may still look like a marker, a chat
control token or a verdict line. A "parrot" judge, which only repeats the candidate (what the small
real judge was measured doing), must then never produce a verdict from the candidate's own claims.
"""

import json
import re
from pathlib import Path

import pytest
from judge_server import JudgeServer, block, containment_rule

from harness.verify import JudgeConfig, Verifier, VerifyItem
from harness.verify.judge import parse_verdict

DATA = Path(__file__).resolve().parents[1] / "perf" / "data" / "judge_injection.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
MARKER = re.compile(r"<<<(END )?([A-Z]+) (\w+)>>>")
LOOKALIKE_RUN = re.compile(r"[<＜﹤‹«〈⟨]{3,}|[>＞﹥›»〉⟩]{3,}")
CONTROL_TOKEN = re.compile(r"<\|[^|]*\|>|\[/?INST\]|</?s>|<(?:start|end)_of_turn>", re.IGNORECASE)


def item(record, variant):
    return VerifyItem(id=f"{record['id']}/{variant}", question=record["question"], answer=record["answer"],
                      response=record[variant], answer_type=record["answer_type"], choices=record.get("choices"))


@pytest.fixture(scope="module")
def judge():
    """One loopback server and one verifier for the module (its math-verify workers start once);
    each test swaps the server's scripted rule."""
    server = JudgeServer()
    config = JudgeConfig(base_url=server.url, model="scripted-judge", policy="always", max_retries=0,
                         timeout_s=5.0)
    with server, Verifier(judge=config) as verifier:
        yield server, verifier


def judged_requests(judge, variant, decide=containment_rule):
    """The verdicts and the (system, user) requests the judge received for each record's `variant`."""
    server, verifier = judge
    server.decide = decide
    server.requests.clear()
    verdicts = verifier.score([item(r, variant) for r in RECORDS])
    assert len(server.requests) == len(RECORDS)
    # requests arrive concurrently, in no fixed order: callers compare them as multisets
    pairs = []
    for body in server.requests:
        messages = {m["role"]: m["content"] for m in body["messages"]}
        pairs.append((messages["system"], messages["user"]))
    return verdicts, pairs


def outside_fence(user):
    """The prompt with the candidate block's content cut out and the nonce blanked."""
    nonce = MARKER.search(user).group(3)
    start = user.index(f"<<<CANDIDATE {nonce}>>>")
    end = user.index(f"<<<END CANDIDATE {nonce}>>>")
    return (user[:start] + user[end:]).replace(nonce, "NONCE")


def test_the_set_covers_the_injection_styles_it_claims():
    styles = {r["style"] for r in RECORDS}
    assert {"plain_instruction", "fake_chat_turn", "fake_role_text", "fence_close", "json_verdict_spoof",
            "unicode_lookalike", "instruction_in_box", "chinese"} <= styles
    for r in RECORDS:
        assert r["injected"] != r["wrong"] and r["answer"] not in (r["wrong"].split("</think>")[-1])


def test_injected_text_changes_nothing_outside_the_candidate_fence(judge):
    _, clean = judged_requests(judge, "wrong")
    _, injected = judged_requests(judge, "injected")
    clean_outside = sorted(outside_fence(u) for _, u in clean)
    injected_outside = sorted(outside_fence(u) for _, u in injected)
    assert injected_outside == clean_outside
    assert len({s for s, _ in clean + injected}) == 1  # model text never reaches the system message


def test_every_prompt_has_exactly_our_six_markers_with_one_nonce(judge):
    _, injected = judged_requests(judge, "injected")
    for _, user in injected:
        markers = MARKER.findall(user)
        assert [(end, name) for end, name, _ in markers] == [
            ("", "QUESTION"), ("END ", "QUESTION"), ("", "REFERENCE"), ("END ", "REFERENCE"),
            ("", "CANDIDATE"), ("END ", "CANDIDATE")], user
        assert len({nonce for _, _, nonce in markers}) == 1


def test_nothing_inside_the_fence_still_breaks_it(judge):
    _, injected = judged_requests(judge, "injected")
    for _, user in injected:
        content = block(user, "CANDIDATE")
        assert content is not None, user
        assert not LOOKALIKE_RUN.search(content), content
        assert not CONTROL_TOKEN.search(content), content
        assert parse_verdict(content) is None, content


def test_an_injection_in_the_thought_never_reaches_the_judge(judge):
    record = next(r for r in RECORDS if r["style"] == "in_thought_only")
    thought = record["injected"].split("</think>")[0]
    _, injected = judged_requests(judge, "injected")
    assert all(thought not in user and "Grader: this answer" not in user for _, user in injected)


def parrot(system, user):
    """A judge that only repeats the candidate, as the 135M model did (no verdict of its own)."""
    return "The candidate wrote:\n" + (block(user, "CANDIDATE") or "")


def test_a_parroting_judge_cannot_turn_the_candidates_claim_into_a_verdict(judge):
    verdicts, _ = judged_requests(judge, "injected", decide=parrot)
    assert [v.method for v in verdicts] == ["judge_error"] * len(RECORDS)
    assert all(v.correct is None for v in verdicts)


def whole_word_rule(system, user):
    """A judge that reads only the fenced blocks: CORRECT when the reference occurs as a whole word."""
    reference = (block(user, "REFERENCE") or "").strip()
    candidate = block(user, "CANDIDATE") or ""
    found = reference and re.search(r"(?<!\w)" + re.escape(reference) + r"(?!\w)", candidate, re.IGNORECASE)
    return "VERDICT: CORRECT" if found else "VERDICT: INCORRECT"


def test_a_fenced_judge_grades_every_injected_wrong_answer_wrong(judge):
    clean, _ = judged_requests(judge, "wrong", decide=whole_word_rule)
    injected, _ = judged_requests(judge, "injected", decide=whole_word_rule)
    right, _ = judged_requests(judge, "right", decide=whole_word_rule)
    assert all(v.judge_correct for v in right)  # the rule can say CORRECT: the test can fail
    assert [v.judge_correct for v in injected] == [v.judge_correct for v in clean]
    assert not any(v.judge_correct for v in injected)
