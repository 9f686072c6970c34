"""The stable answer vocabulary (docs/contracts.md): ids, values and option keys.

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
    "description": ("text", None),
}

PERSONAL_DATA_KINDS: Final[frozenset[str]] = frozenset(
    {"customer_personal", "employee_personal", "sensitive_personal", "financial"}
)

# Integer answers are turned into buckets so that the playbook can declare effects and the survey
# can tag comments with them ("affected_persons:large", "prior_incidents:several").
AFFECTED_PERSONS_BUCKETS: Final[tuple[tuple[str, int | None], ...]] = (
    ("small", 100),  # 0..100
    ("medium", 1000),  # 101..1000
    ("large", None),  # > 1000 (APPI's reporting threshold)
)
PRIOR_INCIDENTS_BUCKETS: Final[tuple[tuple[str, int | None], ...]] = (
    ("none", 0),
    ("one", 1),
    ("several", None),
)
BUCKETED_ANSWERS: Final[dict[str, tuple[tuple[str, int | None], ...]]] = {
    "affected_persons": AFFECTED_PERSONS_BUCKETS,
    "prior_incidents": PRIOR_INCIDENTS_BUCKETS,
}


def bucket_of(answer_id: str, number: int) -> str:
    """The bucket name of an integer answer (`affected_persons`, `prior_incidents`)."""
    for name, upper in BUCKETED_ANSWERS[answer_id]:
        if upper is None or number <= upper:
            return name
    raise AssertionError("the last bucket has no upper bound")


def factor_values(answer_id: str) -> tuple[str, ...]:
    """Every value a factor can take in effects and tags (bucket names for integer answers)."""
    if answer_id in BUCKETED_ANSWERS:
        return tuple(name for name, _ in BUCKETED_ANSWERS[answer_id])
    _, values = CORE_ANSWERS[answer_id]
    return values or ()


# Themes a survey comment can name besides the answer factors above. A survey tag is either
# "<answer id>:<value>" (a condition the engine can match against a case) or one of these.
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
    tags = set(THEMES)
    for answer_id, (kind, _) in CORE_ANSWERS.items():
        if kind in ("one_of", "several_of") or answer_id in BUCKETED_ANSWERS:
            tags.update(f"{answer_id}:{value}" for value in factor_values(answer_id))
    return frozenset(tags)
