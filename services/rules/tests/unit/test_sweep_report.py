"""The campaign report's sections (services/rules/sweep/report.py, labels.py) from rows as the repository gives
them, without I/O: hits counted per kind and how they were matched, actions per measure and status, the case
list, timeliness against each rule's limit, the certificate annex, and every value a person reads in words."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.rules.sweep.labels import (
    BAND,
    LISTING,
    MATCHED_BY,
    SWEEP_STATUS,
    label,
    listing_label,
    matched_by,
)
from services.rules.sweep.report import (
    LOCAL,
    Decided,
    _actions,
    _annex,
    _cases,
    _hits,
    _timeliness,
    category,
    local_day,
)
from services.rules.sweep.service import window_start
from shared.contracts.ingest import SignalKind as K
from shared.errors import InvalidInput

ORG_A, ORG_B = uuid.UUID(int=1), uuid.UUID(int=2)
EVENT_1, EVENT_2, EVENT_3 = uuid.UUID(int=11), uuid.UUID(int=12), uuid.UUID(int=13)
SIGNAL_ON = date(2026, 10, 1)


class Row(tuple[Any, ...]):
    """A result row: the hit first, the joined columns as attributes (what SQLAlchemy's Row looks like here)."""

    def __new__(cls, hit: SimpleNamespace, **columns: Any) -> Row:
        row = super().__new__(cls, (hit,))
        row.__dict__.update(columns)
        return row


def hit(
    org: uuid.UUID,
    kind: K,
    event: uuid.UUID | None,
    *,
    method: str = "credit_code",
    decision: str = "match",
    severity: str | None = "high",
    rule: str = "spot-check-failure",
) -> SimpleNamespace:
    return SimpleNamespace(
        organisation_id=org,
        signal_id=uuid.uuid4(),
        signal_kind=kind.value,
        signal_on=SIGNAL_ON,
        subject_name="浙江宏远电器有限公司",
        party_role=None,
        product="电动自行车用充电器",
        bulletin_no="2026年第3期",
        certificate_no=None,
        match_decision=decision,
        match_method=method,
        match_score=0.97,
        rule_id=rule,
        severity=severity,
        recommended_measure="special_audit",
        event_id=event,
    )


def row(
    h: SimpleNamespace, status: str | None = "open", raised: datetime | None = None, due: date | None = None
) -> Row:
    return Row(
        h,
        status=status,
        created_at=raised or datetime(2026, 10, 2, 3, tzinfo=UTC),
        decision_due=due,
        rank=1,
        score=87.5,
        name="浙江宏远电器有限公司",
        credit_code="91330212PDY0010123",
        province="浙江",
        summary="抽查不合格",
    )


HITS = [
    row(hit(ORG_A, K.SPOT_CHECK_FAILURE, EVENT_1)),
    row(
        hit(
            ORG_A,
            K.SERIOUS_ILLEGAL_LISTED,
            EVENT_2,
            method="name",
            decision="review",
            severity="critical",
            rule="serious-illegal-listed",
        ),
        status="decided",
    ),
    row(hit(ORG_B, K.SPOT_CHECK_FAILURE, EVENT_3, method="verdict"), status="closed"),
    row(hit(ORG_B, K.ABNORMAL_OPERATION_REMOVED, None, method="certificate_no", severity="low"), status=None),
]
ANNEX = [
    SimpleNamespace(
        organisation_id=ORG_A,
        number="C-1",
        type="CCC",
        status="valid",
        scope="充电器",
        expires_on=date(2027, 4, 10),
        name="甲",
        credit_code=None,
        province="浙江",
        rank=1,
        score=87.5,
        band="high",
    ),
    SimpleNamespace(
        organisation_id=ORG_A,
        number="Q-1",
        type="QMS",
        status="suspended",
        scope=None,
        expires_on=None,
        name="甲",
        credit_code=None,
        province="浙江",
        rank=1,
        score=87.5,
        band="high",
    ),
    SimpleNamespace(
        organisation_id=ORG_B,
        number="Q-2",
        type="QMS",
        status="valid",
        scope=None,
        expires_on=None,
        name="乙",
        credit_code=None,
        province="江苏",
        rank=2,
        score=10.0,
        band=None,
    ),
]
DECIDED = {
    EVENT_2: [Decided("withdraw", SIGNAL_ON + timedelta(days=4), 2)],
    EVENT_3: [Decided("special_audit", SIGNAL_ON + timedelta(days=40), 0), Decided("suspend", date(2026, 11, 20), 1)],
}


def test_hits_are_counted_per_kind_with_how_they_were_matched_most_hits_first() -> None:
    by_kind = {entry["kind"]: entry for entry in _hits(HITS, ANNEX)}
    assert next(iter(by_kind)) == "spot_check_failure"
    spot = by_kind["spot_check_failure"]
    assert (spot["label"], spot["hits"], spot["signals"], spot["organisations"], spot["certificates"]) == (
        "产品质量监督抽查不合格",
        2,
        2,
        2,
        3,
    )
    assert (spot["by_code"], spot["by_verdict"], spot["by_name"], spot["automatic"]) == (1, 1, 0, 2)
    listed = by_kind["serious_illegal_listed"]
    assert (listed["by_name"], listed["for_review"], listed["certificates"]) == (1, 1, 2)
    assert by_kind["abnormal_operation_removed"]["by_certificate_no"] == 1


def test_actions_count_each_decision_and_certificate_per_measure_and_what_is_still_open() -> None:
    actions = _actions(HITS, DECIDED, rejected={EVENT_3, uuid.uuid4()})
    assert actions["events"] == 3 and actions["hits_without_event"] == 1
    assert actions["by_measure"][0]["decisions"] == 1
    assert {m["measure"]: (m["label"], m["decisions"], m["certificates"]) for m in actions["by_measure"]} == {
        "withdraw": ("撤销", 1, 2),
        "special_audit": ("专项审核", 1, 0),
        "suspend": ("暂停", 1, 1),
    }
    assert {s["status"]: (s["label"], s["events"]) for s in actions["by_status"]} == {
        "open": ("待处理", 1),
        "decided": ("已决定", 1),
        "closed": ("已关闭", 1),
    }
    assert (actions["cleared_false_positives"], actions["still_open"]) == (1, 1)


def test_the_case_list_holds_major_problems_and_suspected_violations_of_medium_severity_and_up() -> None:
    cases = _cases(HITS, DECIDED, {ORG_A: ["C-1", "Q-1"], ORG_B: ["Q-2"]})
    assert [(c["category"], c["signal_kind"]) for c in cases] == [
        ("major_problem", "spot_check_failure"),
        ("suspected_violation", "serious_illegal_listed"),
        ("major_problem", "spot_check_failure"),
    ]
    listed = cases[1]
    assert (listed["category_label"], listed["matched_by"], listed["match"], listed["severity_label"]) == (
        "涉嫌违规",
        "企业名称",
        "待人工复核 0.97",
        "严重",
    )
    assert (listed["measure"], listed["decided_on"], listed["event_status"]) == ("撤销", "2026-10-05", "已决定")
    assert listed["certificates"] == ["C-1", "Q-1"] and listed["raised_on"] == "2026-10-02"
    assert cases[2]["measures"] == "专项审核、暂停" and cases[0]["measure"] is None


def test_timeliness_measures_days_from_the_signal_against_each_rules_limit() -> None:
    late = row(hit(ORG_B, K.RECALL, uuid.uuid4(), rule="quality-accident"), due=date(2020, 1, 1))
    timeliness = _timeliness([*HITS, late, HITS[0]], DECIDED)  # an event hit twice counts once
    assert timeliness["decided"] == 2 and timeliness["median_days_to_decision"] == 22
    assert (timeliness["within_limit"], timeliness["over_limit"]) == (1, 1)  # 4 ≤ 5 days; 40 > 30 days
    assert timeliness["max_days_to_event"] == 1 and timeliness["open_past_due"] == 1


def test_timeliness_of_nothing_decided_has_no_median() -> None:
    timeliness = _timeliness([], {})
    assert timeliness["median_days_to_decision"] is None and timeliness["max_days_to_decision"] is None


def test_the_annex_gives_each_certificate_its_organisations_worst_severity_kinds_and_measures() -> None:
    rows = {r["certificate_no"]: r for r in _annex(ANNEX, HITS, DECIDED)}
    first = rows["C-1"]
    assert (first["status"], first["band"], first["hits"], first["worst_severity"]) == ("有效", "高风险", 2, "严重")
    assert first["signal_kinds"] == "产品质量监督抽查不合格、列入严重违法失信名单" and first["measures"] == "撤销"
    assert rows["Q-1"]["status"] == "暂停" and rows["Q-1"]["expires_on"] is None
    assert (rows["Q-2"]["band"], rows["Q-2"]["measures"], rows["C-1"]["expires_on"]) == (
        "",
        "专项审核、暂停",
        "2027-04-10",
    )


@pytest.mark.parametrize("kind", list(K))
def test_every_kind_falls_in_one_category_or_none(kind: K) -> None:
    found = category(kind.value)
    assert found in {"major_problem", "suspected_violation", None}
    if kind.value.endswith(("_removed", "_restored")):
        assert found is None


def test_a_day_is_the_day_in_shanghai() -> None:
    assert local_day(datetime(2026, 12, 31, 16, 30, tzinfo=UTC)) == date(2027, 1, 1)
    assert local_day(datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == date(2026, 12, 31)
    assert local_day(None) is None and str(LOCAL) == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("method", "by"),
    [
        ("credit_code", "code"),
        ("credit_code_party", "code"),
        ("verdict", "verdict"),
        ("certificate_no", "certificate"),
        ("name", "name"),
        ("fuzzy_name", "name"),
        ("self_report", "name"),
    ],
)
def test_how_a_match_was_made_reads_as_one_of_four_ways(method: str, by: str) -> None:
    assert matched_by(method) == by and by in MATCHED_BY


def test_a_listing_key_reads_as_its_list_and_number() -> None:
    assert listing_label("ccc:2022010703004512") == "CCC证书 2022010703004512"
    assert listing_label("serious_illegal") == "严重违法失信名单"
    assert listing_label("unknown:7") == "unknown 7"
    assert set(LISTING) == {"serious_illegal", "abnormal_operation", "licence", "ccc"}


def test_a_value_without_a_word_shows_itself_and_none_shows_nothing() -> None:
    assert label(SWEEP_STATUS, "running") == "进行中" and label(BAND, "none") == "无"
    assert label(SWEEP_STATUS, "paused") == "paused" and label(SWEEP_STATUS, None) == ""


@settings(max_examples=200, deadline=None)
@given(as_of=st.dates(date(2000, 1, 1), date(2100, 12, 31)), n=st.integers(0, 999), unit=st.sampled_from("ymdYMD"))
def test_a_window_ends_on_its_day_and_reaches_back_whole_calendar_months(as_of: date, n: int, unit: str) -> None:
    start = window_start(as_of, f" {n}{unit} ")
    assert start <= as_of
    if unit.lower() == "d":
        assert start == as_of - timedelta(days=n)
        return
    months = n * 12 if unit.lower() == "y" else n
    assert (as_of.year * 12 + as_of.month) - (start.year * 12 + start.month) == months
    assert start.day == min(as_of.day, calendar.monthrange(start.year, start.month)[1])


@pytest.mark.parametrize("window", ["", "y", "3", "3w", "-3y", "3.5y", "1000d", "3 years"])
def test_a_window_that_is_no_number_and_unit_is_refused_with_an_example(window: str) -> None:
    with pytest.raises(InvalidInput, match=r"e\.g\. 3y, 18m, 90d"):
        window_start(date(2026, 12, 1), window)
