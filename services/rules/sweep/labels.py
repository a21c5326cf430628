"""zh-CN words for what the campaign report shows: never an enum value on a page a person reads."""

from __future__ import annotations

from shared.contracts.ingest import SignalKind
from shared.contracts.rules import CertificateStatus, MatchDecision, Measure, RiskEventStatus, Severity
from shared.labels import labels

# The system's values read as shared/labels.py words them (one place per language); below, the sweep's own.
SIGNAL_KIND = labels(SignalKind)
MEASURE = labels(Measure)
SEVERITY = labels(Severity)
EVENT_STATUS = labels(RiskEventStatus)
CERTIFICATE_STATUS = labels(CertificateStatus)
MATCH_DECISION = labels(MatchDecision)
BAND = {"high": "高风险", "medium": "中风险", "low": "低风险", "none": "无"}
MATCHED_BY = {"code": "统一社会信用代码", "name": "企业名称", "verdict": "人工确认", "certificate": "证书编号"}
LISTING = {
    "serious_illegal": "严重违法失信名单",
    "abnormal_operation": "经营异常名录",
    "licence": "生产许可证",
    "ccc": "CCC证书",
}
CATEGORY = {"major_problem": "重大问题", "suspected_violation": "涉嫌违规"}
SWEEP_STATUS = {
    "queued": "排队中",
    "running": "进行中",
    "succeeded": "已完成",
    "failed": "失败",
    "interrupted": "已中断",
}
PRODUCT_IN_SCOPE = {True: "认证范围内产品", False: "认证范围外产品", None: "产品范围未知"}


def label(table: dict[str, str], value: str | None) -> str:
    """The word for `value`, or the value itself when there is none yet (never an empty cell)."""
    if value is None:
        return ""
    return table.get(value, value)


def matched_by(method: str) -> str:
    """`code`, `name`, `verdict` or `certificate`: how a match was made (the report's 匹配方式)."""
    if method.startswith("credit_code"):
        return "code"
    return {"verdict": "verdict", "certificate_no": "certificate"}.get(method, "name")


def listing_label(key: str) -> str:
    """`ccc:2022010703004512` -> `CCC证书 2022010703004512`; `serious_illegal` -> `严重违法失信名单`."""
    family, _, number = key.partition(":")
    return LISTING.get(family, family) + (f" {number}" if number else "")
