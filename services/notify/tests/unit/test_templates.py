import uuid
from datetime import UTC, date, datetime

from services.notify.templates import measure_words, render
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    MatchDecision,
    MatchSummary,
    Measure,
    RiskEventRaised,
    Severity,
)

EVENT = RiskEventRaised(
    risk_event_id=uuid.uuid4(),
    organisation_id=uuid.uuid4(),
    organisation_name="浙江宏远电器有限公司",
    signal_id=uuid.uuid4(),
    signal_kind=SignalKind.SPOT_CHECK_FAILURE,
    rule_id="spot-check-failure",
    rule_version=1,
    severity=Severity.HIGH,
    recommended_measure=Measure.SPECIAL_AUDIT,
    title="产品监督抽查不合格：浙江宏远电器有限公司",
    summary="不合格项目：输出电压",
    decision_due=date(2026, 12, 25),
    certificates=[
        CertificateRef(certificate_id=uuid.uuid4(), number="C-1", type="CCC", status=CertificateStatus.VALID)
    ],
    match=MatchSummary(score=1, decision=MatchDecision.MATCH, method="credit_code", explanation="x"),
    raised_at=datetime.now(UTC),
)


def _render(language: str):
    return render(
        "risk_event_raised",
        language,
        event=EVENT,
        organisation_name=EVENT.organisation_name,
        due="2026-12-25",
        measure=measure_words("special_audit", language),
        contact_desk="desk 400",
    )


def test_chinese_alert_says_what_happened_what_is_expected_by_when_and_whom_to_contact() -> None:
    message = _render("zh-CN")
    assert message.subject == "【认证风险提示】产品监督抽查不合格：浙江宏远电器有限公司"
    for expected in ("输出电压", "自查自纠", "2026-12-25", "实施专项监督审核", "C-1（CCC）", "desk 400"):
        assert expected in message.body


def test_english_on_request_and_unknown_languages_fall_back_to_chinese() -> None:
    assert _render("en").subject.startswith("[Certification risk notice]")
    assert "special audit" in _render("en").body
    assert _render("fr").subject.startswith("【认证风险提示】")
