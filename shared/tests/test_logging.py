import logging

from shared.logging import _ContextFilter, correlation_id, mask_email, mask_personal_data, mask_phone


def test_masks() -> None:
    assert mask_email("wang.li@hongyuan.example") == "w***@hongyuan.example"
    assert mask_phone("+86 138-0013-8000") == "138****8000"
    assert mask_phone("13800138000") == "138****8000"


def test_log_records_never_carry_a_full_phone_number_or_email() -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "send to %s and %s", ("wang@a.example", "13800138000"), None
    )
    token = correlation_id.set("cid-1")
    try:
        _ContextFilter("notify").filter(record)
    finally:
        correlation_id.reset(token)
    assert record.getMessage() == "send to w***@a.example and 138****8000"
    assert record.correlation_id == "cid-1"  # type: ignore[attr-defined]


def test_free_text_masking_keeps_other_numbers() -> None:
    assert mask_personal_data("bulletin 2024年第11号, code 91330212PDY0010123") == (
        "bulletin 2024年第11号, code 91330212PDY0010123"
    )
