"""The words a person reads for each value the system stores, per language, in one place (issue 16: "every label
is a human word, never an enum value"): event titles and summaries, emails and texts, the dashboard, the XLSX
reports. zh-CN first; English for the language switch and for organisations that asked for it.

    label(SignalKind.FOOD_SPOT_CHECK_FAILURE)          -> 食品抽检不合格
    label(Measure.SUSPEND, "en")                        -> suspend the certificate
    label("withdraw", "zh-CN", Measure)                 -> 撤销证书 (a stored string)

A value with no word (a kind added to a contract and not here) falls back to English, then to the value with
its underscores as spaces; shared/tests/test_labels.py fails for any enum value without both words.
"""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.ingest import CorrectionHow, CreditCodeStatus, FeedRunStatus, SignalKind, SignalKindV3
from shared.contracts.notify import Channel
from shared.contracts.rules import (
    CertificateStatus,
    ClockKind,
    ClockState,
    MatchDecision,
    Measure,
    RiskEventStatus,
    Severity,
)

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"

_WORDS: dict[type[StrEnum], dict[str, tuple[str, str]]] = {  # value -> (zh-CN, en)
    SignalKind: {
        "spot_check_failure": ("产品质量监督抽查不合格", "failed a product quality spot check"),
        "food_spot_check_failure": ("食品抽检不合格", "failed a food safety spot check"),
        "quality_accident": ("产品质量安全事故", "product quality safety accident"),
        "recall": ("产品召回", "product recall"),
        "serious_illegal_listed": ("列入严重违法失信名单", "put on the serious illegal and dishonest list"),
        "serious_illegal_removed": ("移出严重违法失信名单", "removed from the serious illegal and dishonest list"),
        "abnormal_operation_listed": ("列入经营异常名录", "put on the abnormal operations list"),
        "abnormal_operation_removed": ("移出经营异常名录", "removed from the abnormal operations list"),
        "licence_suspended": ("生产许可证暂停", "production licence suspended"),
        "licence_revoked": ("生产许可证吊销", "production licence revoked"),
        "licence_cancelled": ("生产许可证注销", "production licence cancelled"),
        "licence_expired": ("生产许可证过期", "production licence expired"),
        "licence_restored": ("生产许可证恢复", "production licence restored"),
        "ccc_suspended": ("CCC证书暂停", "CCC certificate suspended"),
        "ccc_withdrawn": ("CCC证书撤销", "CCC certificate withdrawn"),
        "ccc_cancelled": ("CCC证书注销", "CCC certificate cancelled"),
        "ccc_expired": ("CCC证书过期", "CCC certificate expired"),
        "ccc_restored": ("CCC证书恢复", "CCC certificate restored"),
    },
    SignalKindV3: {},  # filled below: every v2 word, and the corrections
    CorrectionHow: {
        "recheck_passed": ("复检合格", "passed on re-examination"),
        "objection_upheld": ("异议成立", "objection upheld"),
        "conclusion_revoked": ("撤销不合格检验结论", "failing conclusion revoked"),
    },
    Measure: {
        "no_action": ("无需措施", "no action"),
        "request_explanation": ("要求说明情况", "ask for an explanation"),
        "corrective_action": ("要求整改", "corrective action"),
        "special_audit": ("专项审核", "special audit"),
        "suspend": ("暂停", "suspend the certificate"),
        "withdraw": ("撤销", "withdraw the certificate"),
        "restore": ("恢复", "restore the certificate"),
        "close": ("关闭", "close"),
    },
    Severity: {
        "low": ("低", "low"),
        "medium": ("中", "medium"),
        "high": ("高", "high"),
        "critical": ("严重", "critical"),
    },
    RiskEventStatus: {
        "open": ("待处理", "open"),
        "in_review": ("审核中", "in review"),
        "decided": ("已决定", "decided"),
        "closed": ("已关闭", "closed"),
    },
    CertificateStatus: {
        "valid": ("有效", "valid"),
        "suspended": ("暂停", "suspended"),
        "withdrawn": ("撤销", "withdrawn"),
        "cancelled": ("注销", "cancelled"),
        "expired": ("过期", "expired"),
    },
    MatchDecision: {
        "match": ("匹配", "matched"),
        "review": ("待人工复核", "for review"),
        "none": ("未匹配", "not matched"),
    },
    ClockKind: {
        "short_notice_audit": ("不通知审核时限", "short-notice audit deadline"),
        "suspension": ("暂停证书时限", "suspension deadline"),
        "withdrawal": ("撤销证书时限", "withdrawal deadline"),
        "suspension_limit": ("暂停期限（不超过6个月）", "suspension limit (6 months at most)"),
        "reply": ("企业回复期限", "the organisation's reply deadline"),
    },
    ClockState: {
        "running": ("计时中", "running"),
        "met": ("按期完成", "met"),
        "missed": ("已逾期", "missed"),
        "void": ("已失效", "void"),
    },
    CreditCodeStatus: {
        "valid": ("有效", "valid"),
        "valid_legacy": ("有效（旧版注册号）", "valid (former registration number)"),
        "invalid": ("无效", "invalid"),
        "absent": ("未提供", "not given"),
    },
    Channel: {
        "email": ("电子邮件", "email"),
        "sms": ("短信", "text message"),
    },
    FeedRunStatus: {
        "succeeded": ("成功", "succeeded"),
        "partial": ("部分成功（有行被拒）", "partly (some rows rejected)"),
        "failed": ("失败", "failed"),
        "not_modified": ("无更新", "not modified"),
    },
}
_WORDS[SignalKindV3] = {  # a v3 kind reads as its v2 twin
    **_WORDS[SignalKind],
    "spot_check_overturned": ("抽检不合格结论被纠正（复检合格或异议成立）", "spot-check failure overturned"),
}


def label(value: StrEnum | str, language: str = DEFAULT_LANGUAGE, kind: type[StrEnum] | None = None) -> str:
    """The word for `value` in `language` (zh-CN unless asked); `kind` names the enum of a stored string."""
    enum = kind or (type(value) if isinstance(value, StrEnum) else None)
    text = str(value)
    words = _WORDS.get(enum, {}).get(text) if enum is not None else None
    if words is None:
        return text.replace("_", " ")
    return words[1] if language.lower().startswith("en") else words[0]


def labels(kind: type[StrEnum], language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Every value of `kind` with its word: for templates, filters and legends."""
    return {member.value: label(member, language) for member in kind}


def covered() -> dict[type[StrEnum], dict[str, tuple[str, str]]]:
    """The table itself (for the test that every enum value has its words)."""
    return _WORDS
