"""zh-CN words for what the campaign report shows: never an enum value on a page a person reads."""

from __future__ import annotations

SIGNAL_KIND = {
    "spot_check_failure": "产品监督抽查不合格",
    "food_spot_check_failure": "食品抽检不合格",
    "quality_accident": "产品质量安全事故",
    "recall": "产品召回",
    "serious_illegal_listed": "列入严重违法失信名单",
    "serious_illegal_removed": "移出严重违法失信名单",
    "abnormal_operation_listed": "列入经营异常名录",
    "abnormal_operation_removed": "移出经营异常名录",
    "licence_suspended": "生产许可证暂停",
    "licence_revoked": "生产许可证撤销",
    "licence_cancelled": "生产许可证注销",
    "licence_expired": "生产许可证过期",
    "licence_restored": "生产许可证恢复",
    "ccc_suspended": "CCC证书暂停",
    "ccc_withdrawn": "CCC证书撤销",
    "ccc_cancelled": "CCC证书注销",
    "ccc_expired": "CCC证书过期",
    "ccc_restored": "CCC证书恢复",
}
MEASURE = {
    "no_action": "无需措施",
    "request_explanation": "要求说明情况",
    "corrective_action": "要求整改",
    "special_audit": "专项监督审核",
    "suspend": "暂停",
    "withdraw": "撤销",
    "restore": "恢复",
    "close": "关闭",
}
SEVERITY = {"critical": "严重", "high": "高", "medium": "中", "low": "低"}
BAND = {"high": "高风险", "medium": "中风险", "low": "低风险", "none": "无"}
EVENT_STATUS = {"open": "待处理", "in_review": "审查中", "decided": "已决定", "closed": "已关闭"}
CERTIFICATE_STATUS = {"valid": "有效", "suspended": "暂停", "withdrawn": "撤销", "cancelled": "注销", "expired": "过期"}
MATCH_DECISION = {"match": "自动匹配", "review": "待人工确认"}
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
