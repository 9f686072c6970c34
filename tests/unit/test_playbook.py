"""The shipped playbook loads and is consistent; a broken playbook fails with file, path and why."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from bot.domain.loading import DataFileError
from bot.domain.playbook import DEFAULT_PLAYBOOK_DIR, Playbook, load_playbook
from bot.domain.survey import Survey
from bot.domain.text import Localized
from bot.domain.vocabulary import CORE_ANSWERS, OPTION_KEYS, factor_values

PLAYBOOK_PATH = DEFAULT_PLAYBOOK_DIR / "leak.yml"
SURVEY_PATH = DEFAULT_PLAYBOOK_DIR / "survey.yml"


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook()


def _raw() -> dict[str, Any]:
    data = yaml.safe_load(PLAYBOOK_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- the shipped playbook -----------------------------------------------------------------------


def test_loads_with_its_survey(playbook: Playbook) -> None:
    assert playbook.id == "leak"
    assert isinstance(playbook.loaded_survey, Survey)
    assert len(playbook.loaded_survey.answers) == 100
    assert load_playbook(PLAYBOOK_PATH) == playbook


def test_stable_vocabulary(playbook: Playbook) -> None:
    ids = [question.id for question in playbook.questions]
    for answer_id, (kind, values) in CORE_ANSWERS.items():
        if kind == "counted":
            continue  # counted from the database, never asked
        question = playbook.question(answer_id)
        assert question.kind == kind, answer_id
        if values is not None:
            assert sorted(c.value for c in question.choices) == sorted(values), answer_id
    assert ids.count("partner") == 1
    assert playbook.question("partner").required
    assert "prior_incidents" not in ids


def test_every_asked_question_is_in_exactly_one_step(playbook: Playbook) -> None:
    in_steps = [qid for step in playbook.steps for qid in step.questions]
    assert sorted(in_steps) == sorted(q.id for q in playbook.questions)
    for question in playbook.questions:
        assert playbook.steps[playbook.step_of(question.id)].questions.count(question.id) == 1


def test_effects_name_real_values(playbook: Playbook) -> None:
    for factor, by_value in playbook.effects.items():
        if factor in ("affected_persons", "prior_incidents"):
            allowed = set(factor_values(factor))
        else:
            allowed = {c.value for c in playbook.question(factor).choices}
        assert set(by_value) <= allowed, factor
        for effect in by_value.values():
            assert set(effect.multipliers) == set(OPTION_KEYS)
            assert all(0 < m <= 100 for m in effect.multipliers.values())


def test_cited_answers_exist_and_are_not_lowered(playbook: Playbook) -> None:
    """What the loader enforces, checked directly against the survey file."""
    survey = yaml.safe_load(SURVEY_PATH.read_text(encoding="utf-8"))
    chosen = {answer["number"]: answer["choice"] for answer in survey["answers"]}
    cited = 0
    for factor, by_value in playbook.effects.items():
        for value, effect in by_value.items():
            for number in effect.answers:
                cited += 1
                assert number in chosen, (factor, value, number)
                assert effect.multipliers[chosen[number]] >= 1.0, (factor, value, number)
    assert cited > 30
    for key, numbers in playbook.representative_answers.items():
        assert numbers
        for number in numbers:
            assert chosen[number] == key, (key, number)


def test_every_option_has_label_and_checklist(playbook: Playbook) -> None:
    assert set(playbook.option_labels) == set(OPTION_KEYS)
    assert set(playbook.checklists) == set(OPTION_KEYS)
    assert all(playbook.checklists[key] for key in OPTION_KEYS)


def test_every_deadline_of_the_product_brief(playbook: Playbook) -> None:
    assert set(playbook.deadlines) == {
        "partner_initial",
        "partner_report",
        "us_ca_ag",
        "gdpr_record",
        "appi_preliminary",
        "appi_final",
        "appi_notify_persons",
        "gdpr_authority",
        "us_ca_notice",
    }
    final = playbook.deadlines["appi_final"]
    assert (final.days, final.days_wrongful) == (30, 60)
    assert final.day_one_is_awareness and final.skip_non_business_days
    assert playbook.deadlines["appi_preliminary"].days == 3
    assert playbook.deadlines["appi_preliminary"].overdue_after_days == 5
    assert playbook.deadlines["gdpr_authority"].hours == 72
    assert playbook.deadlines["us_ca_notice"].days == 30
    assert playbook.deadlines["partner_report"].days == 14
    assert playbook.deadlines["partner_report"].not_after == "appi_final"
    assert playbook.deadlines["partner_report"].days_before == 10
    assert playbook.deadlines["partner_initial"].days == 2
    assert playbook.deadlines["partner_initial"].not_after == "appi_preliminary"
    assert playbook.deadlines["us_ca_ag"].counted_from == "us_ca_notice"
    assert playbook.deadlines["us_ca_ag"].days == 15
    assert playbook.deadlines["appi_preliminary"].skip_non_business_days


def _localized(node: Any, path: str) -> Iterator[tuple[str, Localized]]:
    if isinstance(node, Localized):
        yield path, node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            if name != "survey":
                yield from _localized(getattr(node, name), f"{path}.{name}")
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _localized(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _localized(value, f"{path}[{index}]")


def test_every_text_in_both_languages(playbook: Playbook) -> None:
    texts = list(_localized(playbook, "playbook"))
    assert len(texts) > 100
    for path, text in texts:
        assert text.ja.strip() and text.en.strip(), path


def test_every_text_in_the_file_in_both_languages(playbook: Playbook) -> None:
    def walk(node: Any, path: str) -> Iterator[str]:
        if isinstance(node, dict):
            if "ja" in node or "en" in node:
                assert set(node) == {"ja", "en"}, path
                assert str(node["ja"]).strip() and str(node["en"]).strip(), path
                yield path
                return
            for key, value in node.items():
                yield from walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{path}[{index}]")

    # Every {ja, en} pair of the file, and the loaded model holds the same number of texts.
    assert len(list(walk(_raw(), "leak.yml"))) == len(list(_localized(playbook, "playbook")))


# --- broken playbooks ---------------------------------------------------------------------------


def _load_broken(tmp_path: Path, data: dict[str, Any] | str) -> str:
    shutil.copy(SURVEY_PATH, tmp_path / "survey.yml")
    path = tmp_path / "leak.yml"
    text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataFileError) as excinfo:
        load_playbook(path)
    message = str(excinfo.value)
    assert str(path) in message
    return message


def _question(data: dict[str, Any], question_id: str) -> dict[str, Any]:
    for question in data["questions"]:
        if question["id"] == question_id:
            return question  # type: ignore[no-any-return]
    raise KeyError(question_id)


def _first_answer_choosing(key: str) -> int:
    survey = yaml.safe_load(SURVEY_PATH.read_text(encoding="utf-8"))
    return next(int(a["number"]) for a in survey["answers"] if a["choice"] == key)


def test_an_unchanged_copy_loads(tmp_path: Path) -> None:
    shutil.copy(SURVEY_PATH, tmp_path / "survey.yml")
    path = tmp_path / "leak.yml"
    path.write_text(yaml.safe_dump(_raw(), allow_unicode=True), encoding="utf-8")
    assert load_playbook(path).effects == load_playbook().effects


def test_unknown_answer_number(tmp_path: Path) -> None:
    data = _raw()
    data["effects"]["cause"]["intentional"]["answers"] = [87, 999]
    message = _load_broken(tmp_path, data)
    assert "effects.cause.intentional" in message
    assert "999" in message and "does not exist" in message


def test_citing_a_respondent_whose_choice_is_lowered(tmp_path: Path) -> None:
    data = _raw()
    number = _first_answer_choosing("suspend_and_legal")
    assert data["effects"]["cause"]["negligence"]["multipliers"]["suspend_and_legal"] < 1
    data["effects"]["cause"]["negligence"]["answers"].append(number)
    message = _load_broken(tmp_path, data)
    assert "effects.cause.negligence" in message
    assert f"answer {number}" in message
    assert "suspend_and_legal" in message and "lowers" in message


def test_representative_answer_with_another_choice(tmp_path: Path) -> None:
    data = _raw()
    data["representative_answers"]["suspend_and_legal"] = [_first_answer_choosing("request_report")]
    message = _load_broken(tmp_path, data)
    assert "representative_answers.suspend_and_legal" in message


def test_renamed_stable_question(tmp_path: Path) -> None:
    data = _raw()
    _question(data, "cause")["id"] = "reason"
    for step in data["steps"]:
        step["questions"] = ["reason" if q == "cause" else q for q in step["questions"]]
    message = _load_broken(tmp_path, data)
    assert "stable questions" in message and "'cause'" in message


def test_stable_question_of_another_kind(tmp_path: Path) -> None:
    data = _raw()
    question = _question(data, "damage")
    question["kind"] = "several_of"
    message = _load_broken(tmp_path, data)
    index = data["questions"].index(question)
    assert f"questions[{index}]" in message
    assert "damage" in message and "one_of" in message


def test_choice_removed_from_stable_question(tmp_path: Path) -> None:
    data = _raw()
    question = _question(data, "source")
    question["choices"] = [c for c in question["choices"] if c["value"] != "media"]
    message = _load_broken(tmp_path, data)
    index = data["questions"].index(question)
    assert f"questions[{index}]" in message
    assert "source" in message and "media" in message and "stable vocabulary" in message


@pytest.mark.parametrize("multiplier", [0, -1.5])
def test_multiplier_not_positive(tmp_path: Path, multiplier: float) -> None:
    data = _raw()
    data["effects"]["damage"]["none"]["multipliers"]["suspend_and_legal"] = multiplier
    message = _load_broken(tmp_path, data)
    assert "effects.damage.none" in message
    assert "multipliers must be > 0" in message and "suspend_and_legal" in message


def test_multiplier_missing_an_option(tmp_path: Path) -> None:
    data = _raw()
    del data["effects"]["damage"]["none"]["multipliers"]["request_report"]
    message = _load_broken(tmp_path, data)
    assert "effects.damage.none" in message and "request_report" in message


def test_missing_english_text(tmp_path: Path) -> None:
    data = _raw()
    question = _question(data, "relationship")
    del question["label"]["en"]
    message = _load_broken(tmp_path, data)
    index = data["questions"].index(question)
    assert f"questions[{index}].label.en" in message
    assert "Field required" in message


def test_empty_japanese_checklist_item(tmp_path: Path) -> None:
    data = _raw()
    data["checklists"]["request_report"][1]["ja"] = ""
    message = _load_broken(tmp_path, data)
    assert "checklists.request_report[1].ja" in message


def test_direction_broken_by_an_effect(tmp_path: Path) -> None:
    data = _raw()
    # Confirmed damage now lowers suspension: "more damage → more suspension" no longer holds.
    data["effects"]["damage"]["confirmed"]["multipliers"]["suspend_and_legal"] = 0.5
    message = _load_broken(tmp_path, data)
    index = next(
        i for i, d in enumerate(data["directions"]) if d["factor"] == "damage" and d.get("order")
    )
    assert f"directions[{index}]" in message
    assert "damage possible→confirmed must raise suspend_and_legal" in message


def test_direction_with_an_unknown_value(tmp_path: Path) -> None:
    data = _raw()
    data["directions"].append(
        {"factor": "damage", "order": ["none", "huge"], "raises": "suspend_and_legal"}
    )
    message = _load_broken(tmp_path, data)
    assert f"directions[{len(data['directions']) - 1}]" in message and "'huge'" in message


def test_step_naming_an_unknown_question(tmp_path: Path) -> None:
    data = _raw()
    data["steps"][1]["questions"].append("weather")
    message = _load_broken(tmp_path, data)
    assert "steps[1].questions" in message and "'weather'" in message


def test_effect_for_an_unknown_value(tmp_path: Path) -> None:
    data = _raw()
    data["effects"]["cause"]["sabotage"] = copy.deepcopy(data["effects"]["cause"]["intentional"])
    message = _load_broken(tmp_path, data)
    assert "effects.cause.sabotage" in message and "not a value of cause" in message


def test_unknown_key(tmp_path: Path) -> None:
    data = _raw()
    data["limits"]["max_reason_commments"] = 3
    message = _load_broken(tmp_path, data)
    assert "limits.max_reason_commments" in message


def test_invalid_yaml(tmp_path: Path) -> None:
    text = PLAYBOOK_PATH.read_text(encoding="utf-8").replace(
        "id: leak\n", "id: leak\n  broken: [unclosed\n", 1
    )
    message = _load_broken(tmp_path, text)
    assert "not valid YAML" in message


def test_missing_survey_file(tmp_path: Path) -> None:
    path = tmp_path / "leak.yml"
    shutil.copy(PLAYBOOK_PATH, path)
    with pytest.raises(DataFileError) as excinfo:
        load_playbook(path)
    assert str(tmp_path / "survey.yml") in str(excinfo.value)
    assert "cannot read" in str(excinfo.value)


BROKEN: list[Callable[[dict[str, Any]], None]] = [
    lambda d: d.pop("option_labels"),
    lambda d: d["approval"].update(default_required_approvals=0),
    lambda d: d["deadlines"]["gdpr_authority"].update(days=3),
]


@pytest.mark.parametrize("breaks", BROKEN)
def test_other_mistakes_fail_to_load(
    tmp_path: Path, breaks: Callable[[dict[str, Any]], None]
) -> None:
    data = _raw()
    breaks(data)
    _load_broken(tmp_path, data)
