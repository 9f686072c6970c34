"""The survey data file: complete, consistent with the source's counts, and strictly validated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.loading import DataFileError, load_yaml_model
from bot.domain.survey import Survey, load_survey
from bot.domain.vocabulary import OPTION_KEYS, known_tags

SURVEY_PATH = Path(__file__).resolve().parents[2] / "playbooks" / "survey.yml"

EXPECTED_COUNTS = {
    "continue_unchanged": 1,
    "continue_with_concern": 14,
    "request_report": 43,
    "consider_suspension": 25,
    "suspend_and_legal": 17,
}


@pytest.fixture(scope="module")
def survey() -> Survey:
    return load_survey(SURVEY_PATH)


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(SURVEY_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _load_broken(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "survey.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DataFileError) as excinfo:
        load_yaml_model(path, Survey)
    message = str(excinfo.value)
    assert str(path) in message
    return message


def test_question_and_respondents(survey: Survey) -> None:
    assert survey.question.ja == "もしも取引先が情報漏洩を起こしてしまったら、あなたはどうしますか?"
    assert survey.question.en
    assert "100" in survey.respondents.ja
    assert "100" in survey.source


def test_file_keeps_japanese_as_real_characters() -> None:
    text = SURVEY_PATH.read_text(encoding="utf-8")
    assert "取引の停止を検討する" in text
    assert "\\u" not in text


def test_exactly_100_answers_numbered_in_order(survey: Survey) -> None:
    assert len(survey.answers) == 100
    assert [answer.number for answer in survey.answers] == list(range(1, 101))
    assert survey.answer(42).number == 42


def test_choices_in_option_order_with_counts(survey: Survey) -> None:
    assert tuple(choice.key for choice in survey.choices) == OPTION_KEYS
    assert {choice.key: choice.count for choice in survey.choices} == EXPECTED_COUNTS
    chosen = {key: 0 for key in OPTION_KEYS}
    for answer in survey.answers:
        chosen[answer.choice] += 1
    assert chosen == EXPECTED_COUNTS


def test_answers_are_grouped_by_choice_mildest_first(survey: Survey) -> None:
    order = [OPTION_KEYS.index(answer.choice) for answer in survey.answers]
    assert order == sorted(order)


def test_shares(survey: Survey) -> None:
    assert list(survey.shares) == list(OPTION_KEYS)
    assert list(survey.shares.values()) == pytest.approx([0.01, 0.14, 0.43, 0.25, 0.17])
    assert sum(survey.shares.values()) == pytest.approx(1.0)


def test_choice_labels(survey: Survey) -> None:
    assert survey.choice_label("request_report", "ja") == "報告書や改善書の提出を求める"
    assert (
        survey.choice_label("suspend_and_legal", "ja") == "即座に取引を停止し、法的措置も検討する"
    )
    for choice in survey.choices:
        assert 0 < len(choice.label.en) <= 75


def test_every_tag_is_known(survey: Survey) -> None:
    allowed = known_tags()
    for answer in survey.answers:
        assert set(answer.tags) <= allowed, answer.number


def test_every_answer_has_both_comments(survey: Survey) -> None:
    for answer in survey.answers:
        assert answer.comment_ja.strip(), answer.number
        assert answer.comment_en.strip(), answer.number
        assert not answer.comment_ja.startswith("・"), answer.number
        assert not answer.comment_ja.endswith(")"), answer.number
        assert answer.comment("ja") == answer.comment_ja
        assert answer.comment("en") == answer.comment_en


def test_multi_line_comments_are_kept_whole(survey: Survey) -> None:
    multi_line = {answer.number for answer in survey.answers if "\n" in answer.comment_ja}
    assert multi_line == {7, 16, 25, 34, 66, 76, 95}
    assert survey.answer(16).comment_ja == (
        "漏洩を起こしてしまった理由を求めます。それ次第では、継続、契約打ち切りの判断をします\n"
        "ビジネスはお互いの利益も大切ですが、一番は信頼・信用だと考えています。"
    )
    assert (
        survey.answer(34).comment_ja
        == "故意ではなくとも再発の防止を強く求めると思います。\n怖いから。"
    )
    assert survey.answer(95).comment_ja.endswith("大いにあるから\n取引を中止したほうがただしい")


def test_identical_comments_are_both_kept(survey: Survey) -> None:
    text = "コンプライアンスに反する企業との取引はそれだけでリスクが高いと思います。"
    same = [answer for answer in survey.answers if answer.comment_ja == text]
    assert [answer.number for answer in same] == [69, 82]
    assert {answer.choice for answer in same} == {"consider_suspension"}


@pytest.mark.parametrize(
    ("number", "choice", "age_band", "gender", "occupation", "tag"),
    [
        (1, "continue_unchanged", "50s", "male", "contract_temporary", "compensation"),
        (13, "continue_with_concern", "30s", "female", "company_employee", "authority"),
        (15, "continue_with_concern", "20s", "female", "contract_temporary", "cause:negligence"),
        (33, "request_report", "40s", "female", "executive", "partner_response:cooperative"),
        (
            46,
            "request_report",
            "40s",
            "male",
            "company_employee",
            "contract:prevention_plan_required",
        ),
        (52, "request_report", "60s", "male", "contract_temporary", "damage:confirmed"),
        (56, "request_report", "20s", "female", "civil_servant", "temporary_suspension"),
        (
            67,
            "consider_suspension",
            "30s",
            "male",
            "company_employee",
            "data_kinds:management_critical",
        ),
        (75, "consider_suspension", "30s", "male", "company_employee", "affected_persons"),
        (89, "suspend_and_legal", "60s", "male", "executive", "legal_action"),
        (
            90,
            "suspend_and_legal",
            "40s",
            "female",
            "company_employee",
            "contract:confidentiality_remedies",
        ),
    ],
)
def test_spot_checks(
    survey: Survey,
    number: int,
    choice: str,
    age_band: str,
    gender: str,
    occupation: str,
    tag: str,
) -> None:
    answer = survey.answer(number)
    assert answer.number == number
    assert answer.choice == choice
    assert answer.age_band == age_band
    assert answer.gender == gender
    assert answer.occupation == occupation
    # A theme is a tag; a condition is named by one of the respondent's stances.
    named = {
        f"{i}:{v}"
        for s in answer.stances
        for i, r in s.when.items()
        if isinstance(r, tuple)
        for v in r
    }
    named |= {i for s in answer.stances for i in s.when}
    assert tag in answer.tags or tag in named


def test_spot_check_comments(survey: Survey) -> None:
    assert survey.answer(13).comment_ja.startswith("私に停止する判断はできないので")
    assert survey.answer(54).comment_ja.endswith("例えば、外部の犯行ということもある。")
    # "For example, it could be outsiders": an example, not what they would do then.
    assert survey.answer(54).stances == ()
    # "unless deliberate, continue": a stance for cause=intentional, the mildest reaction that is
    # not continuing.
    (stance,) = survey.answer(14).stances
    assert dict(stance.when) == {"cause": ("intentional",)}
    assert stance.then == "request_report"
    assert survey.answer(100).comment_ja.startswith("信用問題にも関わってくるので")


def test_rejects_unknown_tag(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][0]["tags"] = ["cause:intentional"]
    message = _load_broken(tmp_path, data)
    assert "answers[0].tags" in message
    assert "unknown tag(s) ['cause:intentional']" in message
    assert "is a stance, not a tag" in message


def test_rejects_duplicate_tag(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][0]["tags"] = ["trust", "trust"]
    message = _load_broken(tmp_path, data)
    assert "a tag is listed twice" in message


def test_rejects_wrong_count(tmp_path: Path) -> None:
    data = _raw()
    data["choices"][2]["count"] = 44
    message = _load_broken(tmp_path, data)
    assert "choice request_report declares count 44 but 43 answers chose it" in message


def test_rejects_gap_in_numbering(tmp_path: Path) -> None:
    data = _raw()
    del data["answers"][49]
    message = _load_broken(tmp_path, data)
    assert "answers must be numbered 1..N in order, without gaps" in message


def test_rejects_missing_choice(tmp_path: Path) -> None:
    data = _raw()
    data["choices"] = data["choices"][:4]
    message = _load_broken(tmp_path, data)
    assert "choices must be exactly the five option keys" in message


def test_rejects_unknown_occupation(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][0]["occupation"] = "student"
    message = _load_broken(tmp_path, data)
    assert "answers[0].occupation" in message


# --- stances: coded from the respondents' own words ---------------------------------------------


def test_counts_are_the_survey(survey: Survey) -> None:
    assert survey.counts == EXPECTED_COUNTS


def test_every_quote_is_in_its_comment(survey: Survey) -> None:
    quotes = 0
    for answer in survey.answers:
        for coded in (*answer.stances, *answer.caveats):
            assert coded.quote in answer.comment_ja, answer.number
            assert coded.quote_en.strip(), answer.number
            quotes += 1
    assert quotes >= 30


def test_the_rules_are_written_at_the_top_of_the_file() -> None:
    head = SURVEY_PATH.read_text(encoding="utf-8").split("\nquestion:")[0]
    assert "Coding rules for stances" in head
    assert "It depends" in head and "the mildest of the five reactions" in head


def _stances(survey: Survey, number: int) -> list[tuple[dict[str, object], str]]:
    return [(dict(s.when), s.then) for s in survey.answer(number).stances]


def test_issue_cases_are_coded_from_their_words(survey: Survey) -> None:
    # #17 改善が見受けられない場合は取引を中断: about the partner's improvement, not its speed.
    assert _stances(survey, 17) == [
        ({"report_quality": ("insufficient", "missing")}, "consider_suspension")
    ]
    # #23 期限…それができなきゃ停止: the report missing its due date.
    assert _stances(survey, 23) == [({"report_quality": ("missing",)}, "consider_suspension")]
    # #72 and #51 "depends on how the partner responds" say neither how nor what: no stance.
    assert _stances(survey, 72) == [] and _stances(survey, 51) == []
    assert survey.answer(72).choice == "consider_suspension"
    # #99 自社に関する情報を漏洩したのであれば: restates their own choice under that condition.
    assert _stances(survey, 99) == [
        ({"data_kinds": ("trade_secret", "management_critical")}, "suspend_and_legal")
    ]
    # #87 "it would be different if one individual's malice" says not how: a caveat, not a
    # stance for intent (their stance is the reason they give: damage may come to us too).
    assert _stances(survey, 87) == [({"damage": ("possible", "confirmed")}, "suspend_and_legal")]
    (caveat,) = survey.answer(87).caveats
    assert dict(caveat.when) == {"cause": ("intentional",)}
    # #37 and #52 chose a report and say so when damage occurs: no suspension for damage.
    assert _stances(survey, 37) == [({"damage": ("confirmed",)}, "request_report")]
    assert _stances(survey, 52) == [({"damage": ("confirmed",)}, "request_report")]


def test_stance_statistics(survey: Survey) -> None:
    with_stances = [a for a in survey.answers if a.stances]
    movers = [a for a in with_stances if any(s.then != a.choice for s in a.stances)]
    assert len(with_stances) == 31
    assert len(movers) == 12
    by_answer: dict[str, int] = {}
    for answer in with_stances:
        for answer_id in {i for s in answer.stances for i in s.when}:
            by_answer[answer_id] = by_answer.get(answer_id, 0) + 1
    assert by_answer == {
        "cause": 3,
        "contract": 2,
        "damage": 7,
        "data_kinds": 3,
        "dependency": 4,
        "partner_response": 2,
        "prior_incidents": 2,
        "affected_persons": 1,
        "report_quality": 9,
    }


def _stance_data(when: dict[str, Any], then: str, quote: str) -> dict[str, Any]:
    return {"when": when, "then": then, "quote": quote, "quote_en": "words"}


def test_rejects_a_quote_not_in_the_comment(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][13]["stances"] = [
        _stance_data({"cause": ["intentional"]}, "request_report", "故意なら停止")
    ]
    message = _load_broken(tmp_path, data)
    assert "answers[13]" in message
    assert "stances[0].quote '故意なら停止' is not in comment_ja" in message


@pytest.mark.parametrize(
    ("when", "then", "expected"),
    [
        ({"motive": ["greed"]}, "request_report", "unknown answer id 'motive'"),
        ({"cause": ["sabotage"]}, "request_report", "cause has no value 'sabotage'"),
        (
            {"cause": ["intentional"]},
            "stop_everything",
            "answers[13].stances[0].then: Input should be",
        ),
        ({"prior_incidents": ["many"]}, "request_report", "prior_incidents is a number"),
        ({"cause": {"at_least": 1}}, "request_report", "cause takes a list of values"),
        ({}, "request_report", "`when` names no answer"),
    ],
)
def test_rejects_unknown_keys(
    tmp_path: Path, when: dict[str, Any], then: str, expected: str
) -> None:
    data = _raw()
    data["answers"][13]["stances"] = [_stance_data(when, then, "故意なら別ですが")]
    message = _load_broken(tmp_path, data)
    assert expected in message


def test_rejects_stances_that_break_a_direction(tmp_path: Path) -> None:
    # #33 chose a report; a stance "suspend when the partner is cooperative" beside "continue
    # when slow" would make a worse response milder for this one respondent.
    data = _raw()
    data["answers"][32]["stances"] = [
        _stance_data({"partner_response": ["slow"]}, "continue_with_concern", "相手先の出方を見る"),
    ]
    message = _load_broken(tmp_path, data)
    assert "answers[32]" in message
    assert "stances break a direction: partner_response 'cooperative' → 'slow'" in message
    assert "from request_report to the milder continue_with_concern" in message


def test_rejects_a_milder_stance_for_more_damage(tmp_path: Path) -> None:
    # Two milder stances where the more severe one holds only for less damage: damage none →
    # possible would move this respondent (#60, consider_suspension) from request_report down to
    # continue_with_concern.
    data = _raw()
    data["answers"][59]["stances"] = [
        _stance_data({"damage": ["none"]}, "request_report", "信頼関係に亀裂が入る"),
        _stance_data({"dependency": ["high"]}, "continue_with_concern", "信頼関係に亀裂が入る"),
    ]
    message = _load_broken(tmp_path, data)
    assert "answers[59]" in message
    assert "damage 'none' → 'possible'" in message


def test_rejects_fewer_persons_being_more_severe(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][74]["stances"] = [
        _stance_data({"affected_persons": {"at_most": 100}}, "suspend_and_legal", "規模にもよるが"),
    ]
    message = _load_broken(tmp_path, data)
    assert "affected_persons 0 → 101" in message and "to the milder" in message


def test_rejects_adding_a_data_kind_making_it_milder(tmp_path: Path) -> None:
    data = _raw()
    data["answers"][59]["stances"] = [
        _stance_data({"data_kinds": ["internal_minor"]}, "request_report", "信頼関係に亀裂が入る"),
    ]
    message = _load_broken(tmp_path, data)
    assert "data_kinds () → ('internal_minor',)" in message
