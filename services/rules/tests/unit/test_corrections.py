"""Which earlier event a correcting signal speaks of (issue 15 §3): same product, same batch, same bulletin."""

from __future__ import annotations

import uuid
from datetime import date

from services.rules.review.corrections import CORRECTS, same_subject
from shared.contracts.ingest import (
    Correction,
    CorrectionHow,
    ProductV2,
    SignalDetail,
    SignalKindV3,
    SignalV3,
    Subject,
)

EARLIER = {
    "product": {"name": "脆锅巴原味", "production_date": "2019-08-29", "batch": None},
    "detail": {"bulletin_no": "2019年第46期"},
}


def overturned(
    name: str = "脆锅巴原味", made: date | None = date(2019, 8, 29), bulletin: str | None = "2019年第46期"
) -> SignalV3:
    return SignalV3(
        signal_id=uuid.uuid4(), feed="t", kind=SignalKindV3.SPOT_CHECK_OVERTURNED, subject=Subject(name="青州财记食品有限公司"),
        product=ProductV2(name=name, production_date=made), detail=SignalDetail(),
        correction=Correction(how=CorrectionHow.RECHECK_PASSED, corrects_bulletin_no=bulletin, evidence="复检结论：合格"),
    )  # fmt: skip


def test_the_same_product_batch_and_bulletin_agree() -> None:
    agrees, how = same_subject(EARLIER, overturned())
    assert agrees and how == {"product": "脆锅巴原味", "production_date": "2019-08-29", "bulletin_no": "2019年第46期"}


def test_another_batch_another_product_or_another_bulletin_do_not() -> None:
    assert not same_subject(EARLIER, overturned(made=date(2019, 9, 1)))[0]
    assert not same_subject(EARLIER, overturned(name="脆锅巴麻辣"))[0]
    assert not same_subject(EARLIER, overturned(bulletin="2019年第47期"))[0]


def test_a_batch_printed_by_one_side_only_leaves_the_product_to_decide() -> None:
    agrees, how = same_subject(EARLIER, overturned(made=None, bulletin=None))
    assert agrees and str(how["batch"]).startswith("not printed by both")


def test_what_each_correction_corrects() -> None:
    assert CORRECTS[SignalKindV3.SPOT_CHECK_OVERTURNED] == {"spot_check_failure", "food_spot_check_failure"}
    assert CORRECTS[SignalKindV3.SERIOUS_ILLEGAL_REMOVED] == {"serious_illegal_listed"}
