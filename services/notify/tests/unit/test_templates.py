import uuid
from datetime import UTC, date, datetime

from services.notify.templates import STATUS_WORDS, Rendered, measure_words, render
from shared.contracts.ingest import SignalKind
from shared.contracts.rules import (
    CertificateRef,
    CertificateStatus,
    CertificateStatusChanged,
    MatchDecision,
    MatchSummary,
    Measure,
    RiskEventRaised,
    RiskEventStatus,
    RiskEventUpdated,
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


LINK = {
    "channel": "email",
    "link": "https://certwatch.example/o/SIGNED",
    "short_link": "https://certwatch.example/o/s/abc",
}


def _render(language: str) -> Rendered:
    return render(
        "risk_event_raised",
        language,
        event=EVENT,
        organisation_name=EVENT.organisation_name,
        due="2026-12-25",
        measure=measure_words("special_audit", language),
        contact_desk="desk 400",
        **LINK,
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


SUSPENDED = CertificateStatusChanged(
    certificate_id=uuid.uuid4(), organisation_id=uuid.uuid4(), number="2022010703004512", type="CCC",
    old_status=CertificateStatus.VALID, new_status=CertificateStatus.SUSPENDED, effective_on=date(2026, 12, 1),
    until=date(2027, 3, 1), reason="整改未完成", risk_event_id=uuid.uuid4(), decided_by="dm-wang",
)  # fmt: skip


def _status_notice(language: str, change: CertificateStatusChanged = SUSPENDED) -> Rendered:
    status = STATUS_WORDS.get(language, {}).get(change.new_status.value, change.new_status.value)
    return render("certificate_status_changed", language, event=change, organisation_name="浙江宏远电器有限公司",
                  contact_desk="desk 400", status=status, **LINK)  # fmt: skip


def test_a_suspension_notice_names_the_certificate_until_when_why_and_the_appeal() -> None:
    zh, en = _status_notice("zh-CN"), _status_notice("en")
    assert zh.subject == "【认证决定通知】证书 2022010703004512（CCC）暂停"
    assert "暂停期限至 2027-03-01" in zh.body and "整改未完成" in zh.body and "不得使用认证证书" in zh.body
    assert "15 日内" in zh.body and str(SUSPENDED.risk_event_id) in zh.body
    assert en.subject == "[Certification decision] Certificate 2022010703004512 (CCC) suspended"
    assert "suspended until 2027-03-01" in en.body and "appeal" in en.body


def test_a_restoration_says_restored_and_nothing_about_suspension() -> None:
    restored = SUSPENDED.model_copy(update={"old_status": CertificateStatus.SUSPENDED,
                                            "new_status": CertificateStatus.VALID, "until": None})  # fmt: skip
    zh, en = _status_notice("zh-CN", restored), _status_notice("en", restored)
    assert zh.subject.endswith("恢复有效") and "暂停期限" not in zh.body and "不得使用" not in zh.body
    assert en.subject.endswith("restored") and "until" not in en.body


def test_a_corrective_action_request_gives_its_deadline() -> None:
    update = RiskEventUpdated(
        risk_event_id=uuid.uuid4(), organisation_id=uuid.uuid4(), status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH, change="decided", decision=Measure.CORRECTIVE_ACTION,
        corrective_action_due=date(2026, 12, 31), actor="dm-wang", reason="抽查不合格", updated_at=datetime.now(UTC),
    )  # fmt: skip
    for language, asks in (("zh-CN", "要求限期整改"), ("en", "corrective action")):
        notice = render("decision_made", language, event=update, organisation_name="X", contact_desk="desk",
                        measure=measure_words("corrective_action", language), due="2026-12-31", **LINK)  # fmt: skip
        assert asks in notice.subject.lower() or asks in notice.subject
        assert "2026-12-31" in notice.body and "抽查不合格" in notice.body


def test_an_empty_chinese_digest_says_there_is_nothing_open() -> None:
    message = render("digest", "zh-CN", lines=[], day="2026-12-01", overdue=0, due_soon=0)
    assert message.subject == "【认证风险日报】2026-12-01：未结风险事件 0 件，已超期 0 件，3 日内到期 0 件"
    assert message.body.strip().endswith("今日无未结风险事件。")


def test_every_alert_carries_the_signed_link_and_an_sms_its_short_link() -> None:
    for language in ("zh-CN", "en"):
        assert "https://certwatch.example/o/SIGNED" in _render(language).body
        assert "/o/s/" not in _render(language).subject
        sms = render("risk_event_raised", language, event=EVENT, organisation_name="X", due="", measure="m",
                     contact_desk="d", **{**LINK, "channel": "sms"})  # fmt: skip
        assert sms.subject.endswith("https://certwatch.example/o/s/abc")
        assert "https://certwatch.example/o/SIGNED" in _status_notice(language).body
