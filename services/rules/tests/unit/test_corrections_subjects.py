"""Which earlier event a correction speaks of (services/rules/review/corrections.py `same_subject`), beyond the
spot-check cases of test_corrections.py: a listing or a licence corrected per organisation and number, product
names and batches compared as printed (full-width, spaces), and what each disagreement says."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.rules.review.corrections import BY_PRODUCT, CORRECTS, same_subject
from shared.contracts.ingest import (
    Correction,
    CorrectionHow,
    ProductV2,
    SignalDetail,
    SignalKind,
    SignalKindV3,
    SignalV2,
    SignalV3,
    Subject,
)


def restored(kind: SignalKind, certificate_no: str | None) -> SignalV2:
    return SignalV2(
        signal_id=uuid.uuid4(),
        feed="t",
        kind=kind,
        subject=Subject(name="浙江宏远电器有限公司"),
        detail=SignalDetail(certificate_no=certificate_no, status="有效"),
    )


def overturned(name: str, batch: str | None = None, made: date | None = None, bulletin: str | None = None) -> SignalV3:
    return SignalV3(
        signal_id=uuid.uuid4(),
        feed="t",
        kind=SignalKindV3.SPOT_CHECK_OVERTURNED,
        subject=Subject(name="青州财记食品有限公司"),
        product=ProductV2(name=name, batch=batch, production_date=made),
        detail=SignalDetail(),
        correction=Correction(how=CorrectionHow.OBJECTION_UPHELD, corrects_bulletin_no=bulletin, evidence="异议成立"),
    )


LICENCE: dict[str, Any] = {"detail": {"certificate_no": "XK08-006-01234"}}


def test_a_licence_restored_under_the_same_number_corrects_the_suspension() -> None:
    agrees, how = same_subject(LICENCE, restored(SignalKind.LICENCE_RESTORED, "XK08-006-01234"))
    assert agrees and how == {"certificate_no": "XK08-006-01234"}


def test_a_licence_restored_under_another_number_does_not_and_says_which() -> None:
    agrees, how = same_subject(LICENCE, restored(SignalKind.LICENCE_RESTORED, "XK08-006-09999"))
    assert not agrees and how == {"certificate_no": "XK08-006-09999 ≠ XK08-006-01234"}


def test_a_number_printed_by_one_side_only_leaves_the_organisation_to_decide() -> None:
    assert same_subject(LICENCE, restored(SignalKind.CCC_RESTORED, None)) == (True, {})
    assert same_subject({"detail": {}}, restored(SignalKind.CCC_RESTORED, "2022010703004512")) == (True, {})
    assert same_subject({}, restored(SignalKind.SERIOUS_ILLEGAL_REMOVED, None)) == (True, {})


def test_a_number_printed_full_width_or_spaced_is_the_same_number() -> None:
    agrees, _ = same_subject(LICENCE, restored(SignalKind.LICENCE_RESTORED, "ＸＫ08-006- 01234"))
    assert agrees


def test_a_batch_number_printed_by_both_must_agree_when_no_production_date_is() -> None:
    earlier = {"product": {"name": "脆锅巴", "batch": "20190829A"}, "detail": {}}
    assert same_subject(earlier, overturned("脆锅巴", batch="20190829A")) == (
        True,
        {"product": "脆锅巴", "batch": "20190829A"},
    )
    agrees, how = same_subject(earlier, overturned("脆锅巴", batch="20190901B"))
    assert not agrees and how == {"product": "脆锅巴", "batch": "20190901B ≠ 20190829A"}


def test_a_production_date_printed_by_both_is_compared_before_the_batch() -> None:
    earlier = {"product": {"name": "脆锅巴", "production_date": "2019-08-29", "batch": "X"}, "detail": {}}
    agrees, how = same_subject(earlier, overturned("脆锅巴", batch="Y", made=date(2019, 8, 29)))
    assert agrees and how == {"product": "脆锅巴", "production_date": "2019-08-29"}


def test_a_product_not_named_by_both_is_no_subject() -> None:
    assert same_subject({"product": None, "detail": {}}, overturned("脆锅巴")) == (
        False,
        {"product": "not named by both"},
    )


def test_a_bulletin_the_earlier_signal_did_not_number_is_not_compared() -> None:
    earlier = {"product": {"name": "脆锅巴"}, "detail": {}}
    agrees, how = same_subject(earlier, overturned("脆锅巴", bulletin="2019年第46期"))
    assert agrees and "bulletin_no" not in how


@given(spaces=st.lists(st.sampled_from([" ", "\u3000", "\t"]), max_size=3), full_width=st.booleans())
def test_a_product_name_agrees_with_itself_however_it_is_spaced_or_printed(spaces: list[str], full_width: bool) -> None:
    name = "脆锅巴原味A型"
    printed = "".join(spaces) + (name.replace("A", "Ａ") if full_width else name) + "".join(spaces)
    agrees, _ = same_subject({"product": {"name": name}, "detail": {}}, overturned(printed))
    assert agrees


@pytest.mark.parametrize("kind", list(CORRECTS))
def test_each_correcting_kind_corrects_only_kinds_of_its_own_family(kind: str) -> None:
    corrected = CORRECTS[kind]
    assert corrected and kind not in corrected
    family = kind.split("_")[0]
    if kind not in BY_PRODUCT:
        assert all(k.startswith(family) for k in corrected)
