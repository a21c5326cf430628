"""Every alert template renders in zh-CN and English, on email and SMS, with real-looking data: a subject line,
a body carrying the facts and the signed link, and no placeholder left unfilled (StrictUndefined refuses one)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notify import digest as digest_module
from services.notify.models import OpenEvent
from services.notify.templates import MEASURE_WORDS, Rendered, measure_words, render, status_words
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

LANGUAGES = ("zh-CN", "en")
CHANNELS = ("email", "sms")
TEMPLATES = Path(__file__).parents[2] / "templates"
LINK = "https://certwatch.example/o/ImY0Yz.signed"
SHORT = "https://certwatch.example/o/s/Zx81qP"
DESK = "认证监督部，电话 400-000-0000"

RAISED = RiskEventRaised(
    risk_event_id=uuid.UUID("6f1c1e52-3d2b-5b8e-9a51-0c7d0b1e4a11"),
    organisation_id=uuid.uuid4(),
    organisation_name="宁波市鄞州宏远电器有限公司",
    signal_id=uuid.uuid4(),
    signal_kind=SignalKind.SPOT_CHECK_FAILURE,
    rule_id="spot-check-failure",
    rule_version=3,
    severity=Severity.CRITICAL,
    recommended_measure=Measure.SUSPEND,
    title="产品监督抽查不合格：宁波市鄞州宏远电器有限公司 电热水壶",
    summary="2026年第3批电热水壶产品质量国家监督抽查：不合格项目 泄漏电流和电气强度、发热",
    decision_due=date(2026, 12, 18),
    certificates=[
        CertificateRef(
            certificate_id=uuid.uuid4(), number="2022010703004512", type="CCC", status=CertificateStatus.VALID
        ),
        CertificateRef(
            certificate_id=uuid.uuid4(), number="00124Q38817R2M", type="QMS", status=CertificateStatus.VALID
        ),
    ],
    match=MatchSummary(
        score=1.0, decision=MatchDecision.MATCH, method="credit_code", explanation="统一社会信用代码一致"
    ),
    raised_at=datetime(2026, 12, 1, 2, 30, tzinfo=UTC),
)


def _raised(language: str, channel: str, event: RiskEventRaised = RAISED) -> Rendered:
    return render(
        "risk_event_raised",
        language,
        event=event,
        organisation_name=event.organisation_name,
        due=event.decision_due.isoformat() if event.decision_due else "",
        measure=measure_words(event.recommended_measure.value, language),
        contact_desk=DESK,
        channel=channel,
        link=LINK,
        short_link=SHORT,
    )


def _status(language: str, channel: str, change: CertificateStatusChanged) -> Rendered:
    status = status_words(change.new_status.value, language)
    return render(
        "certificate_status_changed",
        language,
        event=change,
        organisation_name="宏远电器",
        contact_desk=DESK,
        status=status,
        channel=channel,
        link=LINK,
        short_link=SHORT,
    )


def _decision(language: str, channel: str, update: RiskEventUpdated) -> Rendered:
    due = update.corrective_action_due.isoformat() if update.corrective_action_due else ""
    assert update.decision is not None
    return render(
        "decision_made",
        language,
        event=update,
        organisation_name="宏远电器",
        contact_desk=DESK,
        measure=measure_words(update.decision.value, language),
        due=due,
        channel=channel,
        link=LINK,
        short_link=SHORT,
    )


def _change(new: CertificateStatus, until: date | None = None, old: CertificateStatus = CertificateStatus.VALID):
    return CertificateStatusChanged(
        certificate_id=uuid.uuid4(),
        organisation_id=RAISED.organisation_id,
        number="2022010703004512",
        type="CCC",
        old_status=old,
        new_status=new,
        effective_on=date(2026, 12, 3),
        until=until,
        reason="抽查不合格，整改未完成",
        risk_event_id=RAISED.risk_event_id,
        decided_by="dm-wang",
    )


def _update(decision: Measure, due: date | None = None, reason: str | None = "抽查不合格") -> RiskEventUpdated:
    return RiskEventUpdated(
        risk_event_id=RAISED.risk_event_id,
        organisation_id=RAISED.organisation_id,
        status=RiskEventStatus.DECIDED,
        severity=Severity.HIGH,
        change="decided",
        decision=decision,
        corrective_action_due=due,
        actor="dm-wang",
        reason=reason,
        updated_at=datetime(2026, 12, 2, 8, 0, tzinfo=UTC),
    )


def test_every_template_file_has_both_languages() -> None:
    names = {path.name for path in TEMPLATES.glob("*.j2")}
    bases = {name.split(".")[0] for name in names}
    assert bases == {"risk_event_raised", "certificate_status_changed", "decision_made", "digest"}
    assert names == {f"{base}.{language}.j2" for base in bases for language in LANGUAGES}


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_risk_event_alert_names_the_facts_the_certificates_the_deadline_and_the_link(
    language: str, channel: str
) -> None:
    message = _raised(language, channel)
    assert "\n" not in message.subject and RAISED.title in message.subject
    for fact in (
        RAISED.summary,
        "2026-12-18",
        "2022010703004512",
        "00124Q38817R2M",
        DESK,
        LINK,
        str(RAISED.risk_event_id),
        RAISED.organisation_name,
    ):
        assert fact in message.body, (language, fact)
    assert message.body.endswith("\n") and not message.body.startswith(("\n", " "))
    assert message.subject.endswith(SHORT) is (channel == "sms")  # a text carries the short link in its first line
    assert SHORT not in message.body


def test_the_alert_speaks_the_language_asked_for() -> None:
    zh, en = _raised("zh-CN", "email"), _raised("en", "email")
    assert (
        zh.subject.startswith("【认证风险提示】") and "暂停认证证书" in zh.body and "2022010703004512（CCC）" in zh.body
    )
    assert en.subject.startswith("[Certification risk notice]") and "Measure we recommend: suspend." in en.body
    assert "2022010703004512 (CCC), 00124Q38817R2M (QMS)" in en.body
    assert "Dear 宁波市鄞州宏远电器有限公司," in en.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_alert_without_certificates_or_deadline_still_renders(language: str) -> None:
    bare = RAISED.model_copy(update={"certificates": [], "decision_due": None})
    message = _raised(language, "email", bare)
    assert ("（见附件）" if language == "zh-CN" else "(see attachment)") in message.body
    assert "None" not in message.body


@pytest.mark.parametrize("language", ["fr", "", "zh", "EN", "zh-TW"])
def test_a_language_other_than_the_two_gets_the_chinese_template(language: str) -> None:
    chinese = render(
        "risk_event_raised",
        language,
        event=RAISED,
        organisation_name="宏远",
        due="2026-12-18",
        measure="暂停认证证书",
        contact_desk=DESK,
        channel="email",
        link=LINK,
        short_link=SHORT,
    )
    assert chinese.subject.startswith("【认证风险提示】") and "我机构建议的处理措施：暂停认证证书" in chinese.body


@pytest.mark.parametrize("language", ["fr", "EN"])
def test_an_unknown_language_gets_chinese_measure_and_status_words_too(language: str) -> None:
    assert _raised(language, "email") == _raised("zh-CN", "email")
    assert _status(language, "email", _change(CertificateStatus.SUSPENDED)).subject.endswith("暂停")


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("new", "until", "old"),
    [
        (CertificateStatus.SUSPENDED, date(2027, 3, 1), CertificateStatus.VALID),
        (CertificateStatus.WITHDRAWN, None, CertificateStatus.SUSPENDED),
        (CertificateStatus.VALID, None, CertificateStatus.SUSPENDED),
        (CertificateStatus.CANCELLED, None, CertificateStatus.VALID),
    ],
)
def test_every_certificate_status_change_renders_with_its_consequence(
    language: str, channel: str, new: CertificateStatus, until: date | None, old: CertificateStatus
) -> None:
    message = _status(language, channel, _change(new, until, old))
    assert "2022010703004512" in message.subject and message.subject.endswith(SHORT) is (channel == "sms")
    assert "2026-12-03" in message.body and "抽查不合格，整改未完成" in message.body and LINK in message.body
    consequence = {
        ("zh-CN", "suspended"): "不得使用认证证书",
        ("en", "suspended"): "you may not use the certificate",
        ("zh-CN", "withdrawn"): "停止使用认证证书",
        ("en", "withdrawn"): "stop using the certificate",
    }.get((language, new.value))
    if consequence:
        assert consequence in message.body
    else:
        assert "不得使用" not in message.body and "may not use" not in message.body
    assert ("2027-03-01" in message.body) is (until is not None)


def test_the_status_words_in_each_language() -> None:
    assert _status("zh-CN", "email", _change(CertificateStatus.WITHDRAWN)).subject.endswith("撤销")
    assert _status("zh-CN", "email", _change(CertificateStatus.CANCELLED)).subject.endswith("注销")
    assert _status("en", "email", _change(CertificateStatus.WITHDRAWN)).subject.endswith("withdrawn")
    assert _status("en", "email", _change(CertificateStatus.VALID)).subject.endswith("restored")


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(
    ("decision", "due", "says"),
    [
        (Measure.CORRECTIVE_ACTION, date(2026, 12, 31), {"zh-CN": "2026-12-31 前完成整改", "en": "by 2026-12-31"}),
        (Measure.SPECIAL_AUDIT, None, {"zh-CN": "安排专项监督审核", "en": "special surveillance audit"}),
        (Measure.REQUEST_EXPLANATION, None, {"zh-CN": "10 个工作日内", "en": "within 10 working days"}),
    ],
)
def test_every_decision_that_asks_something_says_what_and_by_when(
    language: str, channel: str, decision: Measure, due: date | None, says: dict[str, str]
) -> None:
    message = _decision(language, channel, _update(decision, due))
    assert measure_words(decision.value, language).lower() in message.subject.lower()
    assert says[language] in message.body and "抽查不合格" in message.body and LINK in message.body
    assert str(RAISED.risk_event_id) in message.body
    assert message.subject.endswith(SHORT) is (channel == "sms")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_decision_without_a_reason_points_to_the_record(language: str) -> None:
    body = _decision(language, "email", _update(Measure.SPECIAL_AUDIT, reason=None)).body
    assert ("见风险事件记录" if language == "zh-CN" else "see the risk event record") in body


def _open_event(title: str, due: date | None, clock_kind: str | None = None) -> OpenEvent:
    return OpenEvent(
        risk_event_id=uuid.uuid4(),
        organisation_name=f"{title}有限公司",
        title=title,
        severity="high",
        status="open",
        decision_due=due,
        raised_at=datetime(2026, 11, 20, tzinfo=UTC),
        clock_due=due if clock_kind else None,
        clock_kind=clock_kind,
        clock_basis="认证机构管理办法 第二十一条" if clock_kind else None,
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_digest_flags_each_line_and_counts_them_in_its_subject(language: str) -> None:
    rows = [
        _open_event("逾期事件", date(2026, 11, 28), "suspension"),
        _open_event("临期事件", date(2026, 12, 3)),
        _open_event("未定期限", None),
    ]
    lines = [
        digest_module.Line(rows[0], date(2026, 11, 28), "overdue", "暂停" if language == "zh-CN" else "suspension"),
        digest_module.Line(rows[1], date(2026, 12, 3), "due_soon", ""),
        digest_module.Line(rows[2], None, "", ""),
    ]
    message = render("digest", language, lines=lines, day="2026-12-01", overdue=1, due_soon=1)
    if language == "zh-CN":
        assert message.subject == "【认证风险日报】2026-12-01：未结风险事件 3 件，已超期 1 件，3 日内到期 1 件"
        assert "[已超期] 逾期事件" in message.body and "[即将到期] 临期事件" in message.body
        assert "法定时限：暂停，2026-11-28 前（认证机构管理办法 第二十一条）" in message.body
        assert "决定期限：—" in message.body
    else:
        assert message.subject.endswith("3 open risk events, 1 past their deadline, 1 due within 3 days")
        assert "[PAST DEADLINE] 逾期事件" in message.body and "[DUE SOON] 临期事件" in message.body
        assert "statutory deadline: suspension, by 2026-11-28" in message.body and "decide by: —" in message.body
    assert all(str(row.risk_event_id) in message.body for row in rows)
    assert message.body.index("逾期事件") < message.body.index("临期事件") < message.body.index("未定期限")


def test_an_empty_english_digest_says_there_is_nothing_open() -> None:
    message = render("digest", "en", lines=[], day="2026-12-01", overdue=0, due_soon=0)
    assert message.subject.startswith("[Certification risk digest] 2026-12-01: 0 open risk events")
    assert message.body.strip().endswith("No open risk events today.")


def test_a_missing_value_is_an_error_never_a_blank() -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render("risk_event_raised", "zh-CN", event=RAISED, organisation_name="x", due="", measure="m", channel="email")


def test_the_measure_words() -> None:
    assert set(MEASURE_WORDS["zh-CN"]) == {m.value for m in Measure}
    assert measure_words("corrective_action", "zh-CN") == "要求限期整改"
    assert measure_words("corrective_action", "en") == "corrective action"
    assert measure_words("a_new_measure", "zh-CN") == "a new measure"  # unknown: its own words, never an error
    assert measure_words("suspend", "de") == "暂停认证证书"  # a language we do not write: the Chinese message's words


@settings(max_examples=60, deadline=None)
@given(
    title=st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=60).filter(
        lambda s: s.strip() != ""
    ),
    summary=st.text(max_size=200),
    language=st.sampled_from(LANGUAGES),
    channel=st.sampled_from(CHANNELS),
)
def test_any_title_stays_on_the_subject_line_and_any_summary_in_the_body(
    title: str, summary: str, language: str, channel: str
) -> None:
    event = RAISED.model_copy(update={"title": title, "summary": summary})
    message = _raised(language, channel, event)
    assert title.strip() in message.subject
    assert summary.strip() in message.body
    assert LINK in message.body
