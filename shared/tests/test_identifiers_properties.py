"""Credit codes and registration numbers (shared/identifiers.py) against python-stdnum as the oracle, and the
properties the module promises: what `make_uscc` builds is valid, `compact` is idempotent, `quick_valid` gives
`check_code`'s verdict, and no text at all makes either of them fail."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc
from stdnum.iso7064 import mod_11_10

from shared.identifiers import (
    ORG_CODE_WARNING,
    USCC_ALPHABET,
    CodeKind,
    check_code,
    check_uscc,
    code_warning,
    compact,
    coop_regno_shape_ok,
    is_valid_code,
    make_uscc,
    org_code_check_char,
    quick_valid,
    regno_is_valid,
    uscc_check_char,
)

# GB 32100: a registration authority and category pair the shape accepts, and the body characters.
AUTHORITY_CATEGORY = [("9", "1"), ("9", "2"), ("9", "3"), ("1", "1"), ("5", "1"), ("N", "2"), ("Y", "1"), ("A", "1")]
ORG_BODY = st.text(alphabet=string.digits + "ABCDEFGHJKLMNPQRTUWXY", min_size=8, max_size=8)
REGION = st.integers(min_value=110000, max_value=659999).map(str)
DIGIT_FIRST17 = st.builds(
    lambda head, region, body: head + region + body,
    st.sampled_from(["91", "92", "93", "11", "51", "52", "53", "31"]),
    REGION,
    st.text(alphabet=USCC_ALPHABET, min_size=9, max_size=9),
)
FAST = settings(max_examples=120, deadline=None)


@FAST
@given(first17=DIGIT_FIRST17)
def test_the_check_character_is_the_one_python_stdnum_computes(first17: str) -> None:
    assert uscc_check_char(first17) == stdnum_uscc.calc_check_digit(first17)


@FAST
@given(first17=DIGIT_FIRST17, last=st.sampled_from(USCC_ALPHABET))
def test_a_code_starting_with_a_digit_passes_the_mod_31_check_exactly_when_stdnum_says_so(
    first17: str, last: str
) -> None:
    """For codes stdnum understands (a digit first), its mod-31 verdict is ours; the shape may refuse more."""
    code = first17 + last
    ours = check_code(code)
    assert ours is not None and ours.kind is CodeKind.USCC
    if not stdnum_uscc.is_valid(code):
        assert not ours.valid
    elif ours.valid:
        assert ours.code == code
    else:  # stdnum accepts it: only the authority/category shape may refuse it
        assert ours.problem == "unknown registration authority or entity category"


@FAST
@given(pair=st.sampled_from(AUTHORITY_CATEGORY), region=REGION, body=ORG_BODY)
def test_what_make_uscc_builds_is_valid_without_a_warning(pair: tuple[str, str], region: str, body: str) -> None:
    authority, category = pair
    code = make_uscc(region, body, authority=authority, category=category)
    result = check_code(code)
    assert result is not None and result.valid and result.warning is None, result
    assert quick_valid(code) == code and code_warning(code) is None
    if authority.isdigit():
        assert stdnum_uscc.is_valid(code)


@FAST
@given(pair=st.sampled_from(AUTHORITY_CATEGORY), region=REGION, body=ORG_BODY, at=st.integers(0, 17), data=st.data())
def test_any_single_character_changed_in_a_valid_code_is_caught(
    pair: tuple[str, str], region: str, body: str, at: int, data: st.DataObject
) -> None:
    """Mod 31 over a 31-character alphabet catches every single substitution."""
    code = make_uscc(region, body, authority=pair[0], category=pair[1])
    replacement = data.draw(st.sampled_from([c for c in USCC_ALPHABET if c != code[at]]))
    corrupted = code[:at] + replacement + code[at + 1 :]
    assert not is_valid_code(corrupted)
    assert quick_valid(corrupted) is None


@FAST
@given(region=REGION, body=ORG_BODY)
def test_a_wrong_embedded_organisation_check_is_valid_as_issued_with_the_warning(region: str, body: str) -> None:
    wrong = next(c for c in "0123456789X" if c != org_code_check_char(body))
    first17 = f"91{region}{body}{wrong}"
    code = first17 + uscc_check_char(first17)
    result = check_uscc(code)
    assert result.valid and result.warning == ORG_CODE_WARNING and result.problem is None
    assert code_warning(code) == ORG_CODE_WARNING


@FAST
@given(digits=st.text(alphabet=string.digits, min_size=15, max_size=15))
def test_a_15_digit_registration_number_is_checked_by_iso_7064_mod_11_10(digits: str) -> None:
    assert regno_is_valid(digits) == mod_11_10.is_valid(digits)
    result = check_code(digits)
    assert result is not None and result.kind is CodeKind.REGNO and result.valid == mod_11_10.is_valid(digits)


@FAST
@given(body=st.text(alphabet=string.digits, min_size=14, max_size=14))
def test_the_registration_number_check_digit_stdnum_computes_makes_it_valid(body: str) -> None:
    number = body + mod_11_10.calc_check_digit(body)
    assert regno_is_valid(number) and quick_valid(number) == number


@FAST
@given(text=st.text(max_size=40))
@example("\x00")
@example("９１３３０２１２ＰＤＹ００１０１２３")
@example("91330212PDY001012３")
@example("Ⅸ" * 18)
def test_no_text_makes_the_checks_fail_and_both_agree(text: str) -> None:
    full = check_code(text)
    expected = full.code if full is not None and full.valid else None
    assert quick_valid(text) == expected
    assert is_valid_code(text) == (expected is not None)
    if full is not None and not full.valid:
        assert full.problem  # an invalid code always says why


PRINTED = st.text(alphabet=string.ascii_letters + string.digits + " -\t\u3000０１２３ＡＢＣａｂｃ－", max_size=40)


@FAST
@given(text=PRINTED)
def test_compact_is_idempotent_on_codes_as_printed_and_leaves_no_space_dash_or_lower_case(text: str) -> None:
    once = compact(text)
    assert compact(once) == once
    assert not any(c.isspace() or c == "-" for c in once) and once == once.upper()


@FAST
@given(text=st.text(max_size=40))
def test_compacting_first_never_changes_the_verdict(text: str) -> None:
    """(On arbitrary Unicode compact() is not quite idempotent: upper-casing after NFKC can leave a
    decomposed letter, `R\u0327`, that a second NFKC composes. No such text is a valid code either way.)"""
    assert is_valid_code(compact(text)) == is_valid_code(text)
    assert quick_valid(compact(text)) == quick_valid(text)


@FAST
@given(pair=st.sampled_from(AUTHORITY_CATEGORY), region=REGION, body=ORG_BODY)
def test_a_code_printed_full_width_spaced_or_lower_case_is_the_same_code(
    pair: tuple[str, str], region: str, body: str
) -> None:
    code = make_uscc(region, body, authority=pair[0], category=pair[1])
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    for printed in (full_width, f" {code[:6]} {code[6:]} ", f"{code[:8]}-{code[8:]}", code.lower()):
        result = check_code(printed)
        assert result is not None and result.valid and result.code == code, printed
        assert quick_valid(printed) == code


@FAST
@given(
    region=st.integers(100000, 999999).map(str),
    kind=st.sampled_from("AB"),
    serial=st.text(alphabet=string.digits, min_size=6, max_size=6),
    last=st.sampled_from("0123456789X"),
)
def test_a_farmer_cooperatives_number_is_accepted_by_its_shape(region: str, kind: str, serial: str, last: str) -> None:
    number = f"{region}N{kind}{serial}{last}"
    result = check_code(number)
    assert result is not None and result.valid and result.kind is CodeKind.REGNO
    assert coop_regno_shape_ok(number) and quick_valid(number.lower()) == number


@pytest.mark.parametrize(
    ("raw", "kind", "problem"),
    [
        ("321081NC000275X", CodeKind.UNKNOWN, "not a credit code"),  # NC is no co-operative's mark
        ("021081NA000275X", CodeKind.REGNO, "farmer co-operative"),  # a region code never starts with 0
        ("321081NA00027XX", CodeKind.REGNO, "farmer co-operative"),
        ("9133021", CodeKind.UNKNOWN, "7 characters"),
        ("81330212PDY0010123", CodeKind.USCC, "check"),
        ("96330212PDY001012" + uscc_check_char("96330212PDY001012"), CodeKind.USCC, "unknown registration authority"),
    ],
)
def test_each_refusal_says_what_is_wrong(raw: str, kind: CodeKind, problem: str) -> None:
    result = check_code(raw)
    assert result is not None and not result.valid and result.kind is kind
    assert problem in (result.problem or ""), result.problem


def test_a_letter_first_code_with_a_wrong_check_character_is_refused_without_stdnum() -> None:
    code = make_uscc("110105", "MA000000", authority="N", category="2")
    wrong = code[:17] + next(c for c in USCC_ALPHABET if c != code[17])
    result = check_uscc(wrong)
    assert not result.valid and result.problem == "credit code check character does not match"


def test_check_uscc_counts_the_characters_of_a_code_of_the_wrong_length() -> None:
    assert check_uscc("91330212PDY00101234").problem == "a credit code has 18 characters, this one has 19"


@pytest.mark.parametrize("placeholder", ["—", "-", "\u3000", " - "])
def test_dash_and_ideographic_space_placeholders_are_no_code(placeholder: str) -> None:
    assert check_code(placeholder) is None and quick_valid(placeholder) is None


def test_code_warning_of_something_that_is_no_credit_code_is_none() -> None:
    assert code_warning("110108000000016") is None
    assert code_warning("91330212PDY0Z10123") is None  # Z is no base-35 digit: no code after all
