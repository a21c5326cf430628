"""The campaign ranking: each part of the weighting moves the score the way it says, and says so."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.rules.ruleset.weighting import CAMPAIGN_WEIGHTING, ruleset_manifest, ruleset_version
from services.rules.sweep.ranking import Hit, listing_key, rank
from services.rules.sweep.service import screened, signal_date, window_start
from services.rules.sweep.signals import fraction_through
from shared.contracts.ingest import SignalDetail, SignalReceivedV2, Subject
from shared.contracts.ingest import SignalKind as K
from shared.contracts.rules import MatchDecision as D
from shared.contracts.rules import Severity as S
from shared.errors import InvalidInput

AS_OF = date(2026, 12, 1)


def failure(on: date = AS_OF, in_scope: bool | None = None, decision: D = D.MATCH) -> Hit:
    return Hit(K.SPOT_CHECK_FAILURE, S.HIGH, on, decision, in_scope)


def score(*hits: Hit, types: tuple[str, ...] = ("QMS",)) -> float:
    return rank(list(hits), types, AS_OF).score


def test_a_failure_today_on_a_qms_holder_is_its_severity_points() -> None:
    ranked = rank([failure()], ("QMS",), AS_OF)
    assert ranked.score == 20.0 and ranked.band == "medium"
    [hit, certificate, total] = ranked.reasons
    assert hit.factor == "hit" and "产品质量监督抽查不合格 2026-12-01" in hit.text and "严重程度高 20 分" in hit.text
    assert "有效证书类型 QMS" in certificate.text
    assert total.text == "合计 20 分（campaign-risk 第 1 版）"


def test_older_signals_count_less_halved_every_year() -> None:
    assert score(failure(date(2025, 12, 1))) == pytest.approx(10.0, abs=0.05)
    assert score(failure(date(2024, 12, 1))) == pytest.approx(5.0, abs=0.05)


def test_a_failing_product_in_scope_counts_more_than_one_out_of_scope() -> None:
    assert score(failure(in_scope=True)) > score(failure()) > score(failure(in_scope=False))


def test_a_lead_for_review_counts_half_a_match() -> None:
    assert score(failure(decision=D.REVIEW)) == score(failure()) / 2


def test_repeats_add_less_and_each_further_kind_adds_a_bonus() -> None:
    two = score(failure(), failure())
    assert two == pytest.approx(20 + 20 * 0.6)
    abnormal = Hit(K.ABNORMAL_OPERATION_LISTED, S.MEDIUM, AS_OF, D.MATCH, None, "abnormal_operation")
    mixed = rank([failure(), abnormal], ("QMS",), AS_OF)
    assert any(r.factor == "kinds" and r.points == 5.0 for r in mixed.reasons)


def test_a_listing_in_force_adds_points_and_a_removed_one_counts_less() -> None:
    listed = Hit(K.SERIOUS_ILLEGAL_LISTED, S.CRITICAL, date(2026, 6, 1), D.MATCH, None, "serious_illegal")
    removed = Hit(K.SERIOUS_ILLEGAL_REMOVED, S.LOW, date(2026, 9, 1), D.MATCH, None, "serious_illegal")
    in_force = rank([listed], ("QMS",), AS_OF)
    assert in_force.in_force == ("serious_illegal",)
    assert any("严重违法失信名单：截至 2026-12-01 仍在列 +30 分" in r.text for r in in_force.reasons)
    lifted = rank([listed, removed], ("QMS",), AS_OF)
    assert lifted.in_force == () and lifted.score < in_force.score
    assert any("已移出或恢复" in r.text for r in lifted.reasons)


def test_a_ccc_holder_weighs_more_and_an_organisation_with_no_active_certificate_less() -> None:
    assert score(failure(), types=("CCC", "QMS")) == pytest.approx(26.0)
    assert score(failure(), types=()) == pytest.approx(10.0)


def test_the_reasons_add_up_to_the_score() -> None:
    hits = [failure(), failure(date(2025, 3, 1), True), Hit(K.RECALL, S.CRITICAL, AS_OF, D.REVIEW, True)]
    ranked = rank(hits, ("CCC",), AS_OF)
    parts = sum(r.points for r in ranked.reasons if r.factor != "total")
    assert parts == pytest.approx(ranked.score, abs=0.01)
    assert ranked.band == CAMPAIGN_WEIGHTING.band(ranked.score) == "high"


def test_only_the_first_hits_are_explained_one_by_one() -> None:
    ranked = rank([failure(date(2026, 1, d)) for d in range(1, 16)], ("QMS",), AS_OF)
    hits = [r for r in ranked.reasons if r.factor == "hit"]
    assert len(hits) == 11 and hits[-1].text.startswith("其余 5 条信号合计")


def test_a_licence_status_is_a_listing_per_certificate_number() -> None:
    assert listing_key(K.CCC_SUSPENDED, "2022010703004512") == "ccc:2022010703004512"
    assert listing_key(K.ABNORMAL_OPERATION_REMOVED, None) == "abnormal_operation"
    assert listing_key(K.SPOT_CHECK_FAILURE, "x") is None


def test_the_ruleset_version_names_the_rules_and_the_weighting() -> None:
    assert ruleset_version().endswith("+campaign-risk@1") and ruleset_version().startswith("rules-")
    assert {"id": "spot-check-failure", "version": 1} in ruleset_manifest()["rules"]  # type: ignore[operator]


def test_windows_are_calendar_years_months_or_days() -> None:
    assert window_start(date(2026, 12, 1), "3y") == date(2023, 12, 1)
    assert window_start(date(2024, 2, 29), "1y") == date(2023, 2, 28)
    assert window_start(date(2026, 3, 31), "1m") == date(2026, 2, 28)
    assert window_start(date(2026, 12, 1), "90d") == date(2026, 9, 2)
    with pytest.raises(InvalidInput):
        window_start(AS_OF, "three years")


def _signal(kind: K, published: date | None, **detail: object) -> SignalReceivedV2:
    return SignalReceivedV2(
        signal_id=uuid.uuid4(), feed="f", kind=kind, subject=Subject(name="某公司"), published_on=published,
        detail=SignalDetail(**detail),
    )  # fmt: skip


def test_a_sweep_screens_the_window_and_every_listing_still_on_the_lists() -> None:
    since = date(2023, 12, 1)
    assert screened(_signal(K.SPOT_CHECK_FAILURE, date(2024, 1, 1)), since, AS_OF)
    assert not screened(_signal(K.SPOT_CHECK_FAILURE, date(2022, 1, 1)), since, AS_OF)
    assert not screened(_signal(K.SPOT_CHECK_FAILURE, date(2027, 1, 1)), since, AS_OF)
    old_listing = _signal(K.ABNORMAL_OPERATION_LISTED, None, listed_on=date(2019, 7, 10))
    assert signal_date(old_listing) == date(2019, 7, 10) and screened(old_listing, since, AS_OF)
    assert screened(_signal(K.RECALL, None), since, AS_OF)  # undated: not known to be old


def test_progress_is_read_from_how_far_through_the_ids_a_page_is() -> None:
    assert fraction_through(uuid.UUID(int=0)) == 0.0
    assert fraction_through(uuid.UUID("80000000-0000-5000-8000-000000000000")) == 0.5
    assert 0.99 < fraction_through(uuid.UUID("ffffffff-ffff-5fff-bfff-ffffffffffff")) <= 1.0
