"""Two promises about what a person reads, as properties: every stored value reads as words in both languages
and never as an identifier (shared/labels.py), and no log line keeps a mainland mobile number or an email
address whole, wherever in the text it stands (shared/logging.py)."""

from __future__ import annotations

import re
import string
from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.labels import DEFAULT_LANGUAGE, LANGUAGES, covered, label, labels
from shared.logging import mask_email, mask_personal_data, mask_phone

KINDS = list(covered())
MEMBERS = [(kind, member) for kind in KINDS for member in kind]


@pytest.mark.parametrize("language", ["en", "en-US", "EN", "en-GB"])
def test_any_english_tag_reads_english_and_anything_else_chinese(language: str) -> None:
    for kind, member in MEMBERS:
        zh, en = covered()[kind][member.value]
        assert label(member, language) == en
        assert label(member, "zh-CN") == label(member) == label(member, "fr") == zh


def test_a_stored_string_reads_like_its_member_when_its_kind_is_named() -> None:
    for kind, member in MEMBERS:
        for language in LANGUAGES:
            assert label(member.value, language, kind) == label(member, language)


def test_labels_lists_every_member_once() -> None:
    for kind in KINDS:
        for language in LANGUAGES:
            words = labels(kind, language)
            assert list(words) == [m.value for m in kind]
            assert all(words.values()) and DEFAULT_LANGUAGE == "zh-CN"


class Unlisted(StrEnum):
    BRAND_NEW_KIND = "brand_new_kind"


@given(value=st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=30))
def test_a_value_with_no_words_reads_with_spaces_never_underscores(value: str) -> None:
    for kind in (*KINDS[:3], None):
        shown = label(value, "zh-CN", kind)
        assert "_" not in shown
    assert label(Unlisted.BRAND_NEW_KIND) == "brand new kind"


MOBILE = st.builds(
    lambda second, rest: f"1{second}{rest}",
    st.sampled_from("3456789"),
    st.text(alphabet=string.digits, min_size=9, max_size=9),
)
PRINTED_MOBILE = st.builds(
    lambda number, style: {
        "bare": number,
        "plus": f"+86{number}",
        "spaced": f"+86 {number}",
        "dashed": f"86-{number}",
    }[style],
    MOBILE,
    st.sampled_from(["bare", "plus", "spaced", "dashed"]),
)
LOCAL_PART = st.text(alphabet=string.ascii_letters + string.digits + "._%+-", min_size=2, max_size=12)
DOMAIN = st.builds(
    lambda name, tld: f"{name}.{tld}",
    st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10),
    st.sampled_from(["cn", "com", "example", "com.cn"]),
)
AROUND = st.text(alphabet="联系人电话邮箱：,; （）", max_size=6)
MASKING = settings(max_examples=200, deadline=None)


@MASKING
@given(before=AROUND, printed=PRINTED_MOBILE, after=AROUND)
def test_a_mobile_number_never_survives_a_log_line(before: str, printed: str, after: str) -> None:
    number = re.sub(r"\D", "", printed)[-11:]
    masked = mask_personal_data(f"{before}{printed}{after}")
    assert number not in re.sub(r"\D", "", masked)
    assert f"{number[:3]}****{number[-4:]}" in masked


@MASKING
@given(before=AROUND, local=LOCAL_PART, domain=DOMAIN, after=AROUND)
def test_an_email_address_never_survives_a_log_line(before: str, local: str, domain: str, after: str) -> None:
    address = f"{local}@{domain}"
    masked = mask_personal_data(f"{before}{address}{after}")
    assert address not in masked and f"{local[0]}***@{domain}" in masked


@MASKING
@given(printed=PRINTED_MOBILE)
def test_mask_phone_keeps_the_first_three_and_last_four_digits_of_any_printing(printed: str) -> None:
    number = re.sub(r"\D", "", printed)[-11:]
    assert mask_phone(printed) == f"{number[:3]}****{number[-4:]}"


@given(text=st.text(max_size=60))
def test_masking_never_fails_and_is_idempotent(text: str) -> None:
    once = mask_personal_data(text)
    assert mask_personal_data(once) == once


def test_mask_email_of_something_that_is_no_address_hides_it_all() -> None:
    assert mask_email("not-an-address") == "***" and mask_phone("12") == "****"
