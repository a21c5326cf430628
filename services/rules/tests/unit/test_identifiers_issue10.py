"""Issue 10 (point 6): codes as issued that the rules once refused.

Farmer co-operatives' registration numbers (NA/NB in positions 7–8) and credit codes whose embedded
organisation code fails its GB 11714 check are real identifiers: valid, usable as keys, and the
fast path (`quick_valid`) gives the full check's verdict on them.
"""

from __future__ import annotations

import pytest

from shared.identifiers import (
    ORG_CODE_WARNING,
    CodeKind,
    check_code,
    code_warning,
    coop_regno_shape_ok,
    is_valid_code,
    make_uscc,
    org_code_check_char,
    quick_valid,
    uscc_check_char,
)


def _org_check_fails(region: str = "330212", body: str = "PDY00101") -> str:
    """A credit code with a right GB 32100 check character and a wrong GB 11714 one."""
    wrong = "0" if org_code_check_char(body) != "0" else "1"
    first17 = f"91{region}{body}{wrong}"
    return first17 + uscc_check_char(first17)


@pytest.mark.parametrize("code", ["321081NA000275X", "321081NB0002751", "110105NA0000010", "440606NA123456X"])
def test_a_farmer_cooperatives_registration_number_is_valid(code: str) -> None:
    result = check_code(code)
    assert result is not None and result.valid and result.kind is CodeKind.REGNO, result
    assert result.problem is None and result.warning is None
    assert quick_valid(code) == code and is_valid_code(code) and coop_regno_shape_ok(code)


def test_a_cooperatives_number_is_compacted_like_any_code() -> None:
    for raw in ("321081na000275x", " 321081-NA-000275X ", "３２１０８１ＮＡ０００２７５Ｘ"):
        result = check_code(raw)
        assert result is not None and result.valid and result.code == "321081NA000275X", raw
        assert quick_valid(raw) == "321081NA000275X", raw


@pytest.mark.parametrize(
    "code",
    [
        "321081NA000275Y",  # the last character is a digit or X
        "321081NA00027AX",  # six digits after NA
        "021081NA000275X",  # no region code starts with 0
        "32108XNA000275X",  # the region code is digits
    ],
)
def test_a_malformed_cooperatives_number_is_invalid_and_says_why(code: str) -> None:
    result = check_code(code)
    assert result is not None and not result.valid and result.kind is CodeKind.REGNO
    assert "co-operative" in (result.problem or "")
    assert quick_valid(code) is None and not coop_regno_shape_ok(code)


@pytest.mark.parametrize("code", ["321081NC000275X", "321081AN000275X"])
def test_other_letters_are_no_registration_number(code: str) -> None:
    result = check_code(code)
    assert result is not None and not result.valid and quick_valid(code) is None


def test_a_code_whose_embedded_organisation_code_check_fails_is_valid_with_a_warning() -> None:
    code = _org_check_fails()
    result = check_code(code)
    assert result is not None and result.valid and result.kind is CodeKind.USCC and result.problem is None
    assert result.warning == ORG_CODE_WARNING
    assert "GB 11714" in result.warning and "accepted as issued" in result.warning
    assert quick_valid(code) == code and code_warning(code) == ORG_CODE_WARNING
    assert quick_valid(code.lower()) == code  # the slow path of quick_valid agrees too


def test_an_ordinary_code_carries_no_warning() -> None:
    code = make_uscc("330212", "PDY00101")
    result = check_code(code)
    assert result is not None and result.valid and result.warning is None
    assert code_warning(code) is None
    assert code_warning("321081NA000275X") is None and code_warning("110108000000016") is None


def test_the_credit_codes_own_check_still_refuses_a_wrong_code() -> None:
    code = _org_check_fails()
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    result = check_code(wrong)
    assert result is not None and not result.valid and quick_valid(wrong) is None


def test_a_letter_where_the_organisation_check_character_goes_is_still_refused() -> None:
    """GB 11714's check character is a digit or X: any other letter there is not a code as issued."""
    first17 = "91330212PDY00101A"
    code = first17 + uscc_check_char(first17)
    result = check_code(code)
    assert result is not None and not result.valid and quick_valid(code) is None
