"""Enterprise identifiers: the unified social credit code (GB 32100-2015) and the legacy 注册号.

python-stdnum's `stdnum.cn.uscc` does the format and mod-31 check, but rejects valid codes that start
with a letter (A…, N…, Y…) and does not check the embedded organisation code (GB 11714). This module
wraps it and fills those gaps; an invalid code is kept as evidence by callers but never used as a key.

Codes as issued win over the rules: a code whose own GB 32100 check is right but whose embedded
organisation code fails its GB 11714 check exists in the registers (12 of 222,227 registered codes),
so it is valid, with a `warning` that says so. Farmer co-operatives (农民专业合作社) were given
15-character registration numbers with NA or NB in positions 7–8 (`321081NA000275X`); they are
registration numbers like the 15-digit ones, accepted by their shape (see `coop_regno_shape_ok`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from stdnum.cn import uscc as stdnum_uscc
from stdnum.exceptions import ValidationError

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
# USCC characters as base-34 digits of their value (0-9, A-U); the rest as "!", which int() refuses.
_USCC_DIGITS = bytes.maketrans(
    bytes(range(256)),
    bytes(
        b"0123456789ABCDEFGHIJKLMNOPQRSTU"[USCC_ALPHABET.find(chr(b))] if chr(b) in USCC_ALPHABET else 33
        for b in range(256)
    ),
)
_ORG_CHECK = "0123456789X"  # indexed by (-sum) mod 11: 11 - r, with 11 -> 0 and 10 -> X
# Registration-authority / category pairs of GB 32100 and its later additions.
_USCC_SHAPE = re.compile(r"^[1-9ANY][1-59]\d{6}[0-9A-Z]{8}[0-9X][0-9A-HJ-NP-RTUW-Y]$", re.ASCII)
_REGNO_SHAPE = re.compile(r"^\d{15}$", re.ASCII)
# A farmer co-operative's registration number: the registering authority's 6-digit region code, NA
# (农民专业合作社) or NB (its branch, 分支机构), a 6-digit sequence and a final digit or X.
_COOP_SHAPE = re.compile(r"^[1-9]\d{5}N[AB]\d{6}[0-9X]$", re.ASCII)
ORG_CODE_WARNING = "embedded organisation code (GB 11714) check fails; accepted as issued"


class CodeKind(StrEnum):
    USCC = "uscc"
    REGNO = "regno"  # 15-character 工商注册号: 15 digits (GS 15-2006), or a farmer co-operative's (…NA…/…NB…)
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The outcome of checking a credit code: compact form, kind, why it failed if it did, and for a
    valid code what is odd about it (a code as issued that breaks a rule: still a key, but say so)."""

    code: str
    kind: CodeKind
    valid: bool
    problem: str | None = None
    warning: str | None = None


def compact(raw: str) -> str:
    """NFKC (full-width to half-width), drop spaces and dashes, upper-case."""
    text = unicodedata.normalize("NFKC", raw)
    return re.sub(r"[\s\-]", "", text).upper()


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    """GB 11714 check character; values use the full Latin alphabet (A=10 … Z=35)."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body8, _ORG_WEIGHTS, strict=True))
    r = 11 - total % 11
    return "X" if r == 10 else ("0" if r == 11 else str(r))


def regno_is_valid(code: str) -> bool:
    """ISO 7064 MOD 11,10 hybrid check of a 15-digit registration number."""
    if not _REGNO_SHAPE.match(code):
        return False
    p = 10
    for digit in code[:14]:
        s = (p + int(digit)) % 10 or 10
        p = (2 * s) % 11
    return (p + int(code[14])) % 10 == 1


def coop_regno_shape_ok(code: str) -> bool:
    """A farmer co-operative's (农民专业合作社) registration number, e.g. `321081NA000275X`, by its shape.

    No check character is documented for these numbers: GS 15-2006's ISO 7064 MOD 11,10 check is
    defined on 15 digits, and the letters NA/NB and a final X are outside it (the notice that
    introduced the co-operative licences, 工商个字〔2007〕118号, gives no rule either). So the shape
    alone is checked: a 6-digit region code, NA or NB, 6 digits, a final digit or X. A mistyped digit
    is therefore not caught, as it is in the other codes.
    """
    return _COOP_SHAPE.match(code) is not None


def check_uscc(code: str) -> CodeCheck:
    if len(code) != 18:
        return CodeCheck(code, CodeKind.USCC, False, f"a credit code has 18 characters, this one has {len(code)}")
    bad = sorted({c for c in code if c not in USCC_ALPHABET})
    if bad:
        return CodeCheck(code, CodeKind.USCC, False, f"characters not allowed in a credit code: {''.join(bad)}")
    if code[0].isdigit():
        try:
            stdnum_uscc.validate(code)
        except ValidationError as exc:
            return CodeCheck(code, CodeKind.USCC, False, f"credit code check failed: {exc}")
    elif uscc_check_char(code[:17]) != code[17]:
        return CodeCheck(code, CodeKind.USCC, False, "credit code check character does not match")
    if not _USCC_SHAPE.match(code):
        return CodeCheck(code, CodeKind.USCC, False, "unknown registration authority or entity category")
    if org_code_check_char(code[8:16]) != code[16]:  # issued so: a key all the same (see the module's note)
        return CodeCheck(code, CodeKind.USCC, True, warning=ORG_CODE_WARNING)
    return CodeCheck(code, CodeKind.USCC, True)


def check_code(raw: str | None) -> CodeCheck | None:
    """Check a credit code or legacy registration number; None when there is no code at all."""
    if raw is None:
        return None
    code = compact(raw)
    if not code or code in {"/", "无", "—", "-"}:
        return None
    if len(code) == 15 and code.isdigit():
        if regno_is_valid(code):
            return CodeCheck(code, CodeKind.REGNO, True)
        return CodeCheck(code, CodeKind.REGNO, False, "registration number check digit does not match")
    if len(code) == 15 and code[6:8] in ("NA", "NB"):
        if coop_regno_shape_ok(code):
            return CodeCheck(code, CodeKind.REGNO, True)
        problem = "not a farmer co-operative's registration number (6-digit region, NA or NB, 6 digits, a digit or X)"
        return CodeCheck(code, CodeKind.REGNO, False, problem)
    if len(code) == 18:
        return check_uscc(code)
    return CodeCheck(
        code,
        CodeKind.UNKNOWN,
        False,
        f"not a credit code (18) or registration number (15): {len(code)} characters",
    )


def quick_valid(code: str | None) -> str | None:
    """The compact code when `check_code` would call it valid, else None; the same verdict, faster.

    For hot paths that see every row of a million-row list: no CodeCheck object, no python-stdnum
    call, table lookups instead. `check_code` remains the full check that explains what is wrong.
    """
    if not code:
        return None
    if len(code) == 18 and _USCC_SHAPE.match(code):  # the common case: already compact
        return code if _uscc_sum_ok(code) else None
    code = compact(code)
    if len(code) == 18:
        return code if _USCC_SHAPE.match(code) and _uscc_sum_ok(code) else None
    if len(code) == 15 and (regno_is_valid(code) or _COOP_SHAPE.match(code)):
        return code
    return None


def code_warning(code: str) -> str | None:
    """The `warning` `check_code` gives a code already known to be valid (as `quick_valid` returns it).

    None for nearly every code; for a credit code whose embedded organisation code fails its GB 11714
    check, ORG_CODE_WARNING. The GB 11714 weights are 2^(8-i) mod 11, and 35 ≡ 2 (mod 11): the
    weighted sum is twice the body read in base 35 (int() does the loop in C).
    """
    if len(code) != 18:
        return None
    try:
        body = int(code[8:16], 35)
    except ValueError:  # not a valid code after all (a character outside the alphabet)
        return None
    return None if _ORG_CHECK[-2 * body % 11] == code[16] else ORG_CODE_WARNING


def _uscc_sum_ok(code: str) -> bool:
    """The GB 32100 check character of a code already known to have the USCC shape, by positional
    arithmetic: the weights are 3^i mod 31, and 34 ≡ 3 (mod 31), so the weighted sum is congruent to
    the reversed body read as a base-34 number. int() does the loop in C. (The embedded organisation
    code's GB 11714 check is not a condition of validity: see `code_warning`.)
    """
    try:
        total = int(code.encode()[16::-1].translate(_USCC_DIGITS), 34)
    except ValueError:  # I, O, S, V or Z: allowed by the shape, not by the alphabet
        return False
    return USCC_ALPHABET[-total % 31] == code[17]


def is_valid_code(raw: str | None) -> bool:
    result = check_code(raw)
    return bool(result and result.valid)


def make_uscc(region6: str, org_body8: str, authority: str = "9", category: str = "1") -> str:
    """Build a valid code (for synthetic data): authority + category + region + org code + check."""
    org = org_body8 + org_code_check_char(org_body8)
    first17 = f"{authority}{category}{region6}{org}"
    return first17 + uscc_check_char(first17)
