"""The stable answer vocabulary (docs/contracts.md): ids, values, option keys and directions.

Playbooks may add questions and values but may not rename these; tests, the CLI and the modal's
block ids all share them.
"""

from __future__ import annotations

from typing import Final, Literal

OptionKey = Literal[
    "continue_unchanged",
    "continue_with_concern",
    "request_report",
    "consider_suspension",
    "suspend_and_legal",
]

# Order: from the mildest reaction to the most severe (also the survey's order of choices).
OPTION_KEYS: Final[tuple[OptionKey, ...]] = (
    "continue_unchanged",
    "continue_with_concern",
    "request_report",
    "consider_suspension",
    "suspend_and_legal",
)

AnswerKind = Literal["text", "datetime", "one_of", "several_of", "integer", "counted"]

# id -> (kind, allowed values or None). `counted` answers are computed, never asked.
CORE_ANSWERS: Final[dict[str, tuple[AnswerKind, tuple[str, ...] | None]]] = {
    "partner": ("text", None),
    "aware_at": ("datetime", None),
    "source": ("one_of", ("partner_notice", "third_party", "internal_detection", "media")),
    "relationship": ("one_of", ("entrusted", "shared", "other")),
    "data_kinds": (
        "several_of",
        (
            "customer_personal",
            "employee_personal",
            "sensitive_personal",
            "financial",
            "trade_secret",
            "management_critical",
            "internal_minor",
        ),
    ),
    "affected_persons": ("integer", None),
    "encrypted": ("one_of", ("yes", "no", "unknown")),
    "regions": ("several_of", ("jp", "eu", "us_ca", "other")),
    "cause": ("one_of", ("intentional", "negligence", "external_attack", "unknown")),
    "damage": ("one_of", ("confirmed", "possible", "none", "unknown")),
    "partner_response": ("one_of", ("cooperative", "slow", "concealing", "not_contacted")),
    "dependency": ("one_of", ("high", "medium", "low")),
    "contract": (
        "several_of",
        ("confidentiality_remedies", "prevention_plan_required", "none", "unknown"),
    ),
    "prior_incidents": ("counted", None),
    # The partner's report and prevention plan: recorded when that follow-up is marked, not asked
    # at intake (`leakbot assess --answers` may carry it).
    "report_quality": ("one_of", ("sufficient", "insufficient", "missing")),
    "description": ("text", None),
}

# Answers the intake never asks: counted from the database or recorded later.
NOT_ASKED: Final[frozenset[str]] = frozenset({"prior_incidents", "report_quality"})

# The directions (docs/contracts.md): along each chain a later value is more severe, and a more
# severe value must never move a respondent, the panel or the recommendation to a milder reaction.
# Integer answers grow more severe with the number; adding a data kind is more severe.
SEVERITY_CHAINS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "damage": (("none", "possible", "confirmed"),),
    "cause": (("negligence", "intentional"), ("external_attack", "intentional")),
    "partner_response": (("cooperative", "slow", "concealing"),),
    "dependency": (("high", "medium", "low"),),
    "report_quality": (("sufficient", "insufficient", "missing"),),
}
SEVERITY_BY_NUMBER: Final[frozenset[str]] = frozenset({"affected_persons", "prior_incidents"})
SEVERITY_BY_ADDING: Final[frozenset[str]] = frozenset({"data_kinds"})


def worse_value(answer_id: str, known: str | None, observed: str) -> str:
    """The more severe of a recorded and an observed value of an ordered answer (its chains
    above); `observed` when they are not ordered against each other or nothing is recorded."""
    if known is None:
        return observed
    for chain in SEVERITY_CHAINS.get(answer_id, ()):
        if known in chain and observed in chain:
            return known if chain.index(known) > chain.index(observed) else observed
    return observed


PERSONAL_DATA_KINDS: Final[frozenset[str]] = frozenset(
    {"customer_personal", "employee_personal", "sensitive_personal", "financial"}
)

# Themes a survey comment can name. Conditions a respondent decides on are coded as stances
# (bot/domain/survey.py), never as tags.
THEMES: Final[tuple[str, ...]] = (
    "depends_on_content",  # 内容による / 程度による
    "scale",  # 規模・量
    "fact_finding",  # 原因究明・事実確認を先に
    "prevention_plan",  # 再発防止策・改善策を求める
    "recurrence_risk",  # 再発の恐れ
    "trust",  # 信頼・信用の問題
    "authority",  # 自分では決められない・上司に相談
    "relationship_history",  # これまでの付き合い
    "business_continuity",  # 停止すると仕事に支障
    "self_protection",  # 自社を守る
    "compliance",  # コンプライアンス
    "legal_action",  # 法的措置・裁判
    "compensation",  # 損害賠償・ペナルティ
    "report_deadline",  # 期限を切って報告を求め、守られなければ停止
    "temporary_suspension",  # 事実が分かるまで一時停止
    "mutual",  # お互い様
)


def known_tags() -> frozenset[str]:
    """Every tag a survey answer may carry."""
    return frozenset(THEMES)


def severity(key: OptionKey) -> int:
    """0 for the mildest reaction, 4 for the most severe."""
    return OPTION_KEYS.index(key)
