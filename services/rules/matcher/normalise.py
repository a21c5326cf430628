"""Chinese enterprise names taken apart: 行政区划 + 字号 + 行业 + 组织形式 (+ branch).

Two names are compared on their core (字号 + 行业) and legal form, with the regions they name kept
aside as evidence. Everything here is pure; `analyse` caches, `analyse_once` does not.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple, Protocol

import cython

from services.rules.matcher.pinyin import places as english_places
from services.rules.matcher.regions import (
    CITIES,
    CITY_NAMED_AS_PROVINCE,
    CITY_PREFIX,
    CITY_SUFFIXES,
    MUNICIPALITIES,
    PLACE_PREFIX,
    PLACES,
    PLACES_SHORT,
    PROVINCE_PREFIX,
    PROVINCE_SUFFIXES,
    leading,
)

PLACEHOLDERS = {"", "/", "-", "—", "——", "无", "空", "不详", "未知", "null", "none"}
_LONGEST_PLACEHOLDER = max(map(len, PLACEHOLDERS))
OCR_FIXES = {"巿": "市", "冂": "门", "亍": "行"}
BRACKETS = {"(": "（", ")": "）", "[": "（", "]": "）", "【": "（", "】": "）", "〔": "（", "〕": "）"}
_FOLD = tuple((BRACKETS | OCR_FIXES).items())
_FOLDED = re.escape("".join(BRACKETS | OCR_FIXES))
_NEEDS_FOLD = re.compile(f"[{_FOLDED}\\s]")
_LOWER = re.compile("[a-z]")
_ANNOTATION = re.compile(r"（[^（）]*(?:受托|委托|购进|进货|经销|代理|生产商|制造商|供货|监制)[^（）]*）")
_BRANCH = re.compile(r"^(.+?(?:公司|厂|店|社))(?:（([^（）]{1,12})）|([^（）]{1,12}?))?(分公司|分厂|分店|分部|分社)$")
_BRACKETED = re.compile(r"（([^（）]{1,12})）")
_DISTRICT = re.compile(r"^([\u4e00-\u9fa5]{2,3}?[区县旗])")
# Legal forms, longest first, with the entity class each implies.
FORMS = [
    ("股份有限公司", "股份公司", "company"),
    ("有限责任公司", "有限公司", "company"),
    ("股份公司", "股份公司", "company"),
    ("有限公司", "有限公司", "company"),
    ("（特殊普通合伙）", "合伙", "partnership"),
    ("（普通合伙）", "合伙", "partnership"),
    ("（有限合伙）", "合伙", "partnership"),
    ("（个人独资）", "个人独资", "unincorporated"),
    ("（个体工商户）", "个体工商户", "unincorporated"),
    ("专业合作社", "合作社", "coop"),
    ("合作社", "合作社", "coop"),
    ("经营部", "经营部", "unincorporated"),
    ("门市部", "门市部", "unincorporated"),
    ("工作室", "工作室", "unincorporated"),
    ("商行", "商行", "unincorporated"),
    ("摊位", "摊位", "unincorporated"),
    ("公司", "公司", "company"),
    ("厂", "厂", "unincorporated"),
    ("店", "店", "unincorporated"),
]


# A legal form misspelt by one character (有限司, 有限公, 有现公司, 股份有限公, 有限公丝): the company forms of four
# characters or more, each with every variant one edit away, built once. An edit may drop, swap, replace or
# add a character, except before the form's first character: a replaced or added first character would be
# the 字号's or the industry's last (极限公司, 电器有限公司). A variant with a character replaced or added
# holds _ANY in its place. 股公司 is no variant of 股份公司: 控股公司 is a holding company.
_ANY = "\0"
_NOT_VARIANTS = {"股公司"}


def _form_variants() -> dict[str, tuple[str, str]]:
    exact = {suffix for suffix, _, _ in FORMS}
    table: dict[str, tuple[str, str]] = {}
    for suffix, canonical, entity_class in sorted(FORMS, key=lambda form: -len(form[0])):
        if entity_class != "company" or len(suffix) < 4:
            continue
        n = len(suffix)
        variants = [suffix[:i] + suffix[i + 1 :] for i in range(n)]  # dropped
        variants += [suffix[:i] + suffix[i + 1] + suffix[i] + suffix[i + 2 :] for i in range(n - 1)]  # swapped
        variants += [suffix[:i] + _ANY + suffix[i + 1 :] for i in range(1, n)]  # replaced
        variants += [suffix[:i] + _ANY + suffix[i:] for i in range(1, n + 1)]  # added
        for variant in variants:
            if variant not in exact and variant not in _NOT_VARIANTS:
                table.setdefault(variant, (canonical, entity_class))  # the longer form's, on a clash
    return table


_FORM_VARIANTS = _form_variants()
# 有限公司 spelt out after a misspelt 股份 (股有限公司, 份股有限公司, 股闯有限公司) is 股份有限公司 misspelt; but
# 控股有限公司 is a holding company's 有限公司. Only the names with 股 or 份 just before 有限公司 are looked at.
_STOCK = re.compile(r"(?<!控)[股份][^有]{0,2}有限公司$")
_VARIANT_LENGTHS = tuple(sorted({len(v) for v in _FORM_VARIANTS}, reverse=True))  # longest first

# Foreign manufacturers' certificates carry English names: their legal forms, as word sequences.
_EN_FORMS = sorted(
    [
        (("COMPANY", "LIMITED"), "LTD"),
        (("CO", "LTD"), "LTD"),
        (("CO", "LIMITED"), "LTD"),
        (("LIMITED",), "LTD"),
        (("LTD",), "LTD"),
        (("PTE", "LTD"), "LTD"),
        (("PVT", "LTD"), "LTD"),
        (("PTY", "LTD"), "LTD"),
        (("PRIVATE", "LIMITED"), "LTD"),
        (("CORPORATION",), "CORP"),
        (("CORP",), "CORP"),
        (("CO", "INC"), "INC"),
        (("INCORPORATED",), "INC"),
        (("INC",), "INC"),
        (("GMBH", "CO", "KG"), "GMBH & CO KG"),
        (("GMBH",), "GMBH"),
        (("AG",), "AG"),
        (("LLC",), "LLC"),
        (("L", "L", "C"), "LLC"),
        (("SA",), "SA"),
        (("S", "A"), "SA"),
        (("SPA",), "SPA"),
        (("S", "P", "A"), "SPA"),
        (("BV",), "BV"),
        (("B", "V"), "BV"),
        (("NV",), "NV"),
        (("SAS",), "SAS"),
        (("SRL",), "SRL"),
        (("KG",), "KG"),
        (("PLC",), "PLC"),
        (("LLP",), "LLP"),
        (("COMPANY",), "CO"),
        (("CO",), "CO"),
    ],
    key=lambda form: -len(form[0]),
)
# A name with Latin letters and no Chinese characters (checked on the raw name: a Chinese one fails at once).
_ENGLISH = re.compile(r"[^\u3400-\u9fff\uf900-\ufaff]*[A-Za-z\uff21-\uff3a\uff41-\uff5a][^\u3400-\u9fff\uf900-\ufaff]*")
_EN_WORD = re.compile(r"[A-Z0-9]+")
_EN_CHINA = re.compile(r"[(（]\s*CHINA\s*[)）]")
_EN_BRACKET = re.compile(r"[(（]([^()（）]{1,30})[)）]")


class NameParts(NamedTuple):
    """A name taken apart (a tuple: millions of them are built and kept by the registry index)."""

    folded: str  # the whole name, folded (width, brackets, spaces, traditional characters)
    core: str  # 字号 + 行业: the name without region, form, annotations and branch
    form: str  # canonical legal form (有限公司 / 股份公司 / 厂 / …), "" when none
    entity_class: str  # company | unincorporated | partnership | coop | unknown
    provinces: tuple[str, ...]  # provinces the name itself names (prefix or bracket); tuples: small
    cities: tuple[str, ...]
    branch: str | None = None  # the branch's own label (宁波 in …宁波分公司), "" when unlabelled
    parent_core: str | None = None

    @property
    def key(self) -> str:
        """Exact-match key: core and legal form, regions aside."""
        return f"{self.core}|{self.form}"

    @property
    def is_placeholder(self) -> bool:
        return not self.core


class _Converter(Protocol):
    """What fold uses of opencc_purepy's OpenCC (the package has no annotations)."""

    def convert(self, text: str) -> str: ...


@lru_cache(maxsize=1)
def _t2s() -> tuple[_Converter, re.Pattern[str], re.Pattern[str]]:
    """The converter, a pattern finding any character it would change (one bitmap test per character),
    and one finding any character `fold` would change after NFKC (most names have none)."""
    from opencc_purepy import OpenCC

    converter = OpenCC("t2s")
    traditional = re.escape("".join(sorted(ch for ch in _traditional_chars(converter) if len(ch) == 1)))
    return converter, re.compile(f"[{traditional}]"), re.compile(f"[{_FOLDED}{traditional}\\sa-z]")


def _traditional_chars(converter: _Converter) -> set[str]:
    """Characters the converter would change: a name without any is left alone (fast path)."""
    sample: set[str] = set()
    for block in (range(0x4E00, 0x9FA6),):
        text = "".join(chr(c) for c in block)
        converted = converter.convert(text)
        sample.update(a for a, b in zip(text, converted, strict=False) if a != b)
    return sample


@cython.ccall
def fold(name: str) -> str:
    """NFKC width folding, one bracket style, no spaces, OCR look-alikes fixed, simplified characters,
    Latin letters in capitals."""
    text = name if _is_normalized("NFKC", name) else _normalize("NFKC", name)
    converter, traditional, anything = _t2s()
    if anything.search(text):
        if _NEEDS_FOLD.search(text):
            for character, folded in _FOLD:  # str.translate looks up every character: slower
                if character in text:
                    text = text.replace(character, folded)
            text = "".join(text.split())
        if traditional.search(text):
            text = converter.convert(text)
        if _LOWER.search(text):  # Latin letters in a brand: ABC电器 ≡ abc电器
            text = text.upper()
    return text


_is_normalized, _normalize = unicodedata.is_normalized, unicodedata.normalize


@cython.ccall
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def analyse_once(name: str) -> NameParts:
    """A name taken apart (NameParts), with no cache: for names seen once, such as a registry's or a
    screening file's, which through a cache would only push out the names that do repeat."""
    folded = fold(name)
    if len(folded) <= _LONGEST_PLACEHOLDER and folded.lower() in PLACEHOLDERS:
        return _name_parts(folded, "", "", "unknown", (), ())
    if _ENGLISH.fullmatch(name):
        return _english(name)
    text = _ANNOTATION.sub("", folded).replace("（中国）", "") if "（" in folded else folded
    branch = _BRANCH.match(text) if "分" in text else None
    if branch:
        parent = analyse_once(branch[1])
        label = branch[2] or branch[3] or ""
        return _name_parts(
            folded, parent.core, parent.form, parent.entity_class, parent.provinces, parent.cities, label, parent.core
        )
    return _parts(folded, text)


# Signals name the same organisations again and again: the cached analysis, for them.
analyse = lru_cache(maxsize=200_000)(analyse_once)


@cython.cfunc
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def _english(name: str) -> NameParts:
    """An English name: case, width and punctuation aside, its legal form (Co., Ltd. ≡ Company Limited)
    split off, a "(China)" infix dropped, and regions noted and dropped as the Chinese path does: leading
    (Zhejiang Ningbo Hongyuan …) or in brackets (Hongyuan (Ningbo) …). The words are joined, as a Chinese
    core's characters are."""
    provinces: set[str] = set()
    cities: set[str] = set()
    upper = _normalize("NFKC", name).upper()
    folded = " ".join(_EN_WORD.findall(upper))  # the whole name, as verdicts remember it
    text = _EN_CHINA.sub(" ", upper)
    for found in _EN_BRACKET.finditer(text):
        if _note_english_place("".join(_EN_WORD.findall(found[1])), provinces, cities):
            text = text.replace(found[0], " ")
    words = _EN_WORD.findall(text)
    form = ""
    for suffix, canonical in _EN_FORMS:
        if len(words) > len(suffix) and tuple(words[-len(suffix) :]) == suffix:
            form, words = canonical, words[: -len(suffix)]
            break
    for _ in range(2):  # a province, then a city
        for n in (2, 1):  # HONG KONG, XI AN; NINGBO
            if len(words) > n and _note_english_place("".join(words[:n]), provinces, cities):
                words = words[n:]
                break
        else:
            break
    return _name_parts(
        folded, "".join(words), form, "company" if form else "unknown", _sorted(provinces), _sorted(cities)
    )


@cython.cfunc
def _note_english_place(spelling: str, provinces: set[str], cities: set[str]) -> cython.bint:
    """Whether `spelling` (words joined, capitals) is a region; records its province and city if known."""
    place = english_places().get(spelling)
    if place is None:
        return False
    if place[0]:
        provinces.add(place[0])
    if place[1]:
        cities.add(place[1])
    return True


@cython.cfunc
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def _name_parts(
    folded: str,
    core: str,
    form: str,
    entity_class: str,
    provinces: tuple[str, ...],
    cities: tuple[str, ...],
    branch: object = None,
    parent_core: object = None,
) -> NameParts:
    """A NameParts, made directly (its class's constructor is a Python function)."""
    return tuple.__new__(NameParts, (folded, core, form, entity_class, provinces, cities, branch, parent_core))


@cython.cfunc
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def _parts(folded: str, text: str) -> NameParts:
    """A region is the same evidence wherever the name carries it: as a prefix (浙江鼎新照明集团), in brackets
    anywhere (鼎新照明（浙江）集团, 远洋水产品贸易（明光）), or just before 集团 (鼎新照明浙江集团)."""
    form, entity_class, text = _split_form(text)
    provinces: set[str] = set()
    cities: set[str] = set()
    if "（" in text:
        text = _strip_bracketed(text, provinces, cities)
    text = _strip_prefix(text, provinces, cities)
    if "集团" in text:
        text = _strip_before_group(text, provinces, cities)
    return _name_parts(folded, text, form, entity_class, _sorted(provinces), _sorted(cities))


@cython.cfunc
def _strip_bracketed(text: str, provinces: set[str], cities: set[str]) -> str:
    """Bracketed labels that are regions, wherever they stand, keeping at least 2 characters."""
    for found in reversed(list(_BRACKETED.finditer(text))):
        rest = text[: found.start()] + text[found.end() :]
        if len(rest) >= 2 and _region(found[1], provinces, cities, True):
            text = rest
    return text


@cython.cfunc
def _strip_before_group(text: str, provinces: set[str], cities: set[str]) -> str:
    """A province or city (or a division by its full name) just before 集团, after at least 2 characters:
    鼎新照明浙江集团 is 鼎新照明集团. A county's bare name is not read there (华夏东方集团 names no 东方市)."""
    at = text.rfind("集团")
    start: cython.Py_ssize_t
    for start in range(max(2, at - 8), at - 1):  # longest label first
        if _region(text[start:at], provinces, cities, False):
            return text[:start] + text[at:]
    return text


@cython.cfunc
def _sorted(names: set[str]) -> tuple[str, ...]:
    return () if not names else (names.pop(),) if len(names) == 1 else tuple(sorted(names))


@cython.cfunc
def _split_form(text: str) -> tuple[str, str, str]:
    """The longest legal-form suffix: only the forms ending in the name's last character are tried. A
    company form misspelt by one character is read as that form (see _FORM_VARIANTS) when no form is
    spelt out, or only 公司 is (有现公司 is 有限公司, not 有现 + 公司)."""
    for suffix, canonical, entity_class in _FORMS_ENDING_IN.get(text[-1:], ()):
        if text.endswith(suffix) and len(text) > len(suffix):
            if canonical == "公司" or (suffix == "有限公司" and _STOCK.search(text, max(0, len(text) - 7))):
                misspelt = _misspelt_form(text)
                if misspelt is not None and len(text) - len(misspelt[2]) > len(suffix):
                    return misspelt
            return canonical, entity_class, text[: -len(suffix)]
    misspelt = _misspelt_form(text)
    return misspelt if misspelt is not None else ("", "unknown", text)


@cython.cfunc
@cython.returns(object)  # the annotation is for mypy (see typings/cython)
def _misspelt_form(text: str) -> tuple[str, str, str] | None:
    """(form, entity class, the rest) for a name ending in a company form one edit away, keeping at least
    2 characters; the longest such ending wins (股份有限司 is 股份公司, not 股份 + 有限司). None if none."""
    size: cython.Py_ssize_t = len(text)
    length: cython.Py_ssize_t
    i: cython.Py_ssize_t
    for length in _VARIANT_LENGTHS:
        if size - length < 2:
            continue
        tail = text[size - length :]
        found = _FORM_VARIANTS.get(tail)
        if found is None:
            for i in range(1, length):
                found = _FORM_VARIANTS.get(tail[:i] + _ANY + tail[i + 1 :])
                if found is not None:
                    break
        if found is not None:
            return found[0], found[1], text[: size - length]
    return None


_FORMS_ENDING_IN = {  # by last character, longest first: most names end in 司, and try four forms
    last: sorted((form for form in FORMS if form[0].endswith(last)), key=lambda form: -len(form[0]))
    for last in {suffix[-1] for suffix, _, _ in FORMS}
}


_PROVINCE_PREFIX, _CITY_PREFIX, _PLACE_PREFIX, _leading = PROVINCE_PREFIX, CITY_PREFIX, PLACE_PREFIX, leading


@cython.cfunc
def _region(label: str, provinces: set[str], cities: set[str], bare_places: cython.bint) -> cython.bint:
    """Whether a label is a region and nothing else (浙江, 浙江省, 浙江宁波, 宁波市, 明光市; with `bare_places`
    also a county's or a prefecture's bare name, 明光: in brackets, nothing else is meant); records it if so."""
    found_provinces: set[str] = set()
    found_cities: set[str] = set()
    rest = label
    province = _leading(rest, _PROVINCE_PREFIX)
    if province:
        _note_province(province, found_provinces, found_cities)
        rest = rest[len(province) :]
        if province in CITY_NAMED_AS_PROVINCE and rest.startswith("市"):
            found_cities.add(province)
        rest = _drop_any(rest, PROVINCE_SUFFIXES)
    city = _leading(rest, _CITY_PREFIX) if rest else None
    if city:
        _note_city(city, found_provinces, found_cities)
        rest = _drop_any(rest[len(city) :], CITY_SUFFIXES)
    if rest:
        place = PLACES.get(rest) or (PLACES_SHORT.get(rest) if bare_places else None)
        if place is None:
            return False
        _note_place(place, found_provinces, found_cities)
    elif not province and not city:
        return False
    provinces.update(found_provinces)
    cities.update(found_cities)
    return True


@cython.cfunc
def _drop_any(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if text.startswith(suffix):
            return text[len(suffix) :]
    return text


@cython.cfunc
def _note_place(place: tuple[str, str], provinces: set[str], cities: set[str]) -> cython.void:
    provinces.add(place[0])
    cities.add(place[1])


@cython.ccall
def _strip_prefix(text: str, provinces: set[str], cities: set[str]) -> str:
    """Drop a leading province, city and district (浙江省宁波市鄞州区…), keeping at least 2 characters.

    Step by step, by look-ups on the first two characters: compiled, half the time one big regex takes."""
    province = _leading(text, _PROVINCE_PREFIX)
    if province and len(text) - len(province) >= 2:
        _note_province(province, provinces, cities)
        text = text[len(province) :]
        if province in CITY_NAMED_AS_PROVINCE and text.startswith("市"):  # 吉林市: the city
            cities.add(province)
        text = _drop(text, PROVINCE_SUFFIXES)
    city = _leading(text, _CITY_PREFIX)
    if city and len(text) - len(city) >= 2:
        _note_city(city, provinces, cities)
        text = _drop(text[len(city) :], CITY_SUFFIXES)
    # Any other prefecture or county, by its full name only (明光市, 鄞州区: a bare 明光 may be a 字号)
    place = _leading(text, _PLACE_PREFIX)
    if place and len(text) - len(place) >= 2 and not _word_goes_on(text, len(place)):
        _note_place(PLACES[place], provinces, cities)
        text = text[len(place) :]
    return _strip_district(text, cities)


@cython.cfunc
def _word_goes_on(text: str, at: cython.Py_ssize_t) -> cython.bint:
    """Whether the suffix just before `at` begins a word instead (东方市场, 宁波市政工程, 区域): no region ends there."""
    return text[at - 1 : at + 1] in _SUFFIX_WORDS


@cython.cfunc
def _note_province(province: str, provinces: set[str], cities: set[str]) -> cython.void:
    provinces.add(province)
    if province in MUNICIPALITIES:  # 北京, 上海, …: a province and a city at once
        cities.add(province)


@cython.cfunc
def _note_city(city: str, provinces: set[str], cities: set[str]) -> cython.void:
    cities.add(city)
    provinces.add(CITIES[city])


@cython.cfunc
def _strip_district(text: str, cities: set[str]) -> str:
    """A district (鄞州区) after a city, keeping at least 2 characters."""
    if cities:
        district = _DISTRICT.match(text)
        if district and len(text) - len(district[1]) >= 2:
            return text[len(district[1]) :]
    return text


@cython.cfunc
def _drop(text: str, suffixes: tuple[str, ...]) -> str:
    for suffix in suffixes:
        if text.startswith(suffix) and len(text) - len(suffix) >= 2 and not _word_goes_on(text, len(suffix)):
            return text[len(suffix) :]
    return text


_SUFFIX_WORDS = {"市场", "市政", "区域", "区块", "县域"}
