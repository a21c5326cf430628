"""Rows that overturn an earlier failure (issue 15 §3): a 复检 that passed, an objection upheld, a notice
revoking the failing conclusion, each becomes a spot_check_overturned signal (v3) naming the product, the
batch and the bulletin it corrects; a 复检 that failed again, or an objection refused, stays a failure."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from services.ingest.feeds import ParsedRecord, parse_file
from services.ingest.feeds.spot_check import correction_title
from shared.contracts.ingest import (
    V3_ONLY_KINDS,
    Correction,
    CorrectionHow,
    SignalKind,
    SignalKindV3,
    SignalV2,
    SignalV3,
)

CORPUS = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "bulletins"
HEADER = "序号,标称生产企业名称,食品名称,生产日期/批号,原不合格项目,原通告号"


def signals(path: Path, publisher: str = "辽宁省市场监督管理局") -> list[SignalV2]:
    items = parse_file("food_spot_check", path, feed="corpus", publisher=publisher).items()
    return [i.signal for i in items if isinstance(i, ParsedRecord)]


def correction(signal: SignalV2) -> Correction:
    """What a signal corrects: only a v3 signal carries it."""
    assert isinstance(signal, SignalV3) and signal.correction is not None, signal.kind
    return signal.correction


def table(tmp_path: Path, header: str, *rows: str, title: str | None = None) -> Path:
    path = tmp_path / "notice.csv"
    path.write_text("\n".join(filter(None, [title, header, *rows])) + "\n", encoding="utf-8-sig")
    return path


def test_the_liaoning_recheck_row_overturns_the_bulletin_it_names() -> None:
    [signal] = signals(CORPUS / "15_liaoning-province_food_recheck_passed.csv")
    assert isinstance(signal, SignalV3) and signal.kind is SignalKindV3.SPOT_CHECK_OVERTURNED
    assert signal.kind in V3_ONLY_KINDS
    assert signal.correction is not None and correction(signal).how is CorrectionHow.RECHECK_PASSED
    assert correction(signal).corrects_bulletin_no == "2019年第46期"
    assert "复检结论：合格" in correction(signal).evidence and "辽宁省食品检验检测院" in correction(signal).evidence
    assert signal.subject.name == "青州财记食品有限公司"
    assert signal.product is not None and signal.product.name == "脆锅巴原味"
    assert signal.product.production_date == date(2019, 8, 29)
    assert [i.item for i in signal.detail.failed_items] == ["大肠菌群"]  # what was overturned
    assert signal.published_on == date(2020, 1, 10)
    # It travels as v3 and never reads as a v2 failure.
    assert json.loads(signal.model_dump_json())["kind"] == "spot_check_overturned"


def test_the_failure_it_corrects_is_the_same_product_and_batch() -> None:
    [failure] = signals(CORPUS / "03_liaoning-province_food_failed.csv")
    [correction_signal] = signals(CORPUS / "15_liaoning-province_food_recheck_passed.csv")
    assert failure.kind is SignalKind.FOOD_SPOT_CHECK_FAILURE
    assert failure.product is not None and correction_signal.product is not None
    assert failure.subject.name == correction_signal.subject.name
    assert failure.product.name == correction_signal.product.name
    assert failure.product.production_date == correction_signal.product.production_date
    # 03's file prints no number (the page around it does: 2019年第46期); the correction names it.
    assert correction(correction_signal).corrects_bulletin_no == "2019年第46期"


def test_a_recheck_that_fails_again_stays_a_failure(tmp_path: Path) -> None:
    path = table(
        tmp_path, f"{HEADER},复检机构,复检结论",
        "1,甲食品有限公司,饼干,2024-03-01,菌落总数,2024年第3期,乙检测院,不合格",
        "2,丙食品有限公司,面包,2024-03-02,霉菌,2024年第3期,乙检测院,合格",
    )  # fmt: skip
    found = {s.subject.name: s for s in signals(path)}
    assert found["甲食品有限公司"].kind is SignalKind.FOOD_SPOT_CHECK_FAILURE
    overturned = found["丙食品有限公司"]
    assert isinstance(overturned, SignalV3) and overturned.kind is SignalKindV3.SPOT_CHECK_OVERTURNED


def test_an_objection_upheld_overturns_and_one_refused_does_not(tmp_path: Path) -> None:
    path = table(
        tmp_path, f"{HEADER},异议处理结果",
        "1,甲食品有限公司,饼干,2024-03-01,菌落总数,2024年第3期,异议成立，撤销原检验结论",
        "2,丙食品有限公司,面包,2024-03-02,霉菌,2024年第3期,异议不成立，维持原检验结论",
    )  # fmt: skip
    found = {s.subject.name: s for s in signals(path)}
    assert correction(found["甲食品有限公司"]).how is CorrectionHow.OBJECTION_UPHELD
    assert found["丙食品有限公司"].kind is SignalKind.FOOD_SPOT_CHECK_FAILURE


def test_a_notice_revoking_the_failing_conclusion_overturns_every_row_it_lists(tmp_path: Path) -> None:
    title = "关于撤销部分食品抽检不合格检验结论的通告"
    path = table(tmp_path, HEADER, "1,甲食品有限公司,饼干,2024-03-01,菌落总数,2024年第3期", title=title)
    [signal] = signals(path)
    assert correction(signal).how is CorrectionHow.CONCLUSION_REVOKED
    assert title in correction(signal).evidence


def test_titles_that_let_the_failure_stand_are_no_correction() -> None:
    assert correction_title("监督抽查不合格复查仍不合格企业信息") is None  # fixture 04
    assert correction_title("食品安全监督抽检信息通告(2022年6月第1期)") is None
    assert correction_title("不合格食品复检结果通告") is CorrectionHow.RECHECK_PASSED
    assert correction_title("关于抽检不合格产品异议处理结果的公告") is CorrectionHow.OBJECTION_UPHELD
    assert correction_title("复检结论：维持原检验结论") is None
