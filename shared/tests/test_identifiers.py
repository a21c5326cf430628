import pytest

from shared.identifiers import CodeKind, check_code, is_valid_code, make_uscc, org_code_check_char

VALID = [
    "91330212PDY0010123",
    "91440606PDY001020P",
    "91320583PDY0010391",
    "91370211PDY001047P",
    "91441900PDY001055F",
    "91350582PDY001063F",
    "91310115PDY0010714",
    "91350100M000100Y43",
]


@pytest.mark.parametrize("code", VALID)
def test_synthetic_and_standard_codes_are_valid(code: str) -> None:
    result = check_code(code)
    assert result is not None and result.valid, result
    assert result.kind is CodeKind.USCC


def test_full_width_and_spaces_are_compacted() -> None:
    assert is_valid_code("９１３３０２１２ＰＤＹ００１０１２３")
    assert is_valid_code(" 91330212-PDY0010123 ")


def test_code_starting_with_a_letter_is_accepted_where_stdnum_rejects_it() -> None:
    from stdnum.cn import uscc

    code = make_uscc("110105", "MA000000", authority="N", category="2")
    assert not uscc.is_valid(code)  # the library's gap (DOMAIN.md §4.5a)
    assert is_valid_code(code)


def test_embedded_org_code_is_checked_where_stdnum_does_not() -> None:
    """A code whose GB 11714 check fails is one as issued (12 of 222,227 registered codes): valid, with a warning."""
    body = "PDY00101"
    wrong = "0" if org_code_check_char(body) != "0" else "1"
    from shared.identifiers import uscc_check_char

    first17 = f"91330212{body}{wrong}"
    code = first17 + uscc_check_char(first17)
    from stdnum.cn import uscc

    assert uscc.is_valid(code)  # passes the mod-31 check alone
    result = check_code(code)
    assert result is not None and result.valid and result.problem is None
    assert "GB 11714" in (result.warning or "")
    assert check_code(VALID[0]).warning is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("91330212PDY0010124", "check"),
        ("91330212PDYO010123", "not allowed"),
        ("91330212PDY001012", "not a credit code"),
        ("91350100M000100Y4Z", "not allowed"),
    ],
)
def test_invalid_codes_say_why(code: str, problem: str) -> None:
    result = check_code(code)
    assert result is not None and not result.valid
    assert problem in (result.problem or "")


def test_legacy_registration_numbers() -> None:
    for code in ("110108000000016", "330212000123455", "440606400012345"):
        result = check_code(code)
        assert result is not None and result.valid and result.kind is CodeKind.REGNO
    bad = check_code("330212000123456")
    assert bad is not None and not bad.valid and bad.kind is CodeKind.REGNO


@pytest.mark.parametrize("placeholder", [None, "", "/", "无", "  "])
def test_placeholders_are_no_code(placeholder: str | None) -> None:
    assert check_code(placeholder) is None


def test_quick_valid_gives_the_full_checks_verdict() -> None:
    """The hot-path check agrees with check_code on valid codes and on every single-character corruption."""
    import random

    from shared.identifiers import USCC_ALPHABET, code_warning, quick_valid

    rng = random.Random(7)
    alphabet = USCC_ALPHABET + "IOSVZ-x ０"
    samples = [
        *VALID,
        "110108000000016",
        "330212000123456",
        "９１３３０２１２ＰＤＹ００１０１２３",
        "91330212PDYO010123",
    ]
    for code in list(samples):
        for _ in range(60):
            at = rng.randrange(len(code))
            samples.append(code[:at] + rng.choice(alphabet) + code[at + 1 :])
    samples += [make_uscc(f"{rng.randrange(110000, 660000)}", f"{rng.randrange(10**8):08d}") for _ in range(200)]
    # Farmer co-operatives' registration numbers, and their corruptions.
    coops = ["321081NA000275X", "330212NB0001234", "321081na000275x"]
    coops += [
        f"{rng.randrange(110000, 660000)}N{rng.choice('AB')}{rng.randrange(10**6):06d}{rng.choice('0123456789X')}"
        for _ in range(50)
    ]
    for code in coops:
        samples.append(code)
        for _ in range(30):
            at = rng.randrange(len(code))
            samples.append(code[:at] + rng.choice(alphabet + "NABC") + code[at + 1 :])
    # Codes whose own check is right but whose embedded GB 11714 check fails: valid, as issued.
    from shared.identifiers import uscc_check_char

    for _ in range(100):
        body = f"{rng.randrange(10**8):08d}"
        first17 = f"91{rng.randrange(110000, 660000)}{body}{rng.choice('0123456789X')}"
        samples.append(first17 + uscc_check_char(first17))
    for code in samples:
        full = check_code(code)
        assert quick_valid(code) == (full.code if full and full.valid else None), code
        if full and full.valid:
            assert code_warning(full.code) == full.warning, code
    assert any(check_code(code).warning for code in samples[-100:])  # type: ignore[union-attr]
    assert sum(bool(quick_valid(code)) for code in samples if "N" in code[6:8]) > 50
