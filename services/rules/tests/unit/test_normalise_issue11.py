"""Issue 11 (item 2) in the name analysis: legal forms misspelt by one character read as the form, and a
region read as the same evidence wherever the name carries it (prefix, brackets after the 字号 or the
industry, before 集团), with neither rule rescuing a different 字号."""

from __future__ import annotations

import pytest

from services.rules.matcher.index import RegistryIndex, RegistryRecord
from services.rules.matcher.normalise import analyse_once
from services.rules.matcher.regions import PLACES, PLACES_SHORT
from shared.contracts.rules import MatchDecision


def _read(name: str) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    parts = analyse_once(name)
    return parts.core, parts.form, parts.provinces, parts.cities


# ------------------------------------------------------------ legal forms read fuzzily


@pytest.mark.parametrize(
    ("misspelt", "spelt"),
    [
        ("浙江鼎新照明集团有限司", "浙江鼎新照明集团有限公司"),  # dropped
        ("苏州锐拓精密机械有限公", "苏州锐拓精密机械有限公司"),
        ("苏州锐拓精密机械限公司", "苏州锐拓精密机械有限公司"),
        ("苏州锐拓精密机械有公司", "苏州锐拓精密机械有限公司"),
        ("宏远电器股份有限公", "宏远电器股份有限公司"),
        ("宏远电器股份有限司", "宏远电器股份有限公司"),
        ("宏远电器股份有公司", "宏远电器股份有限公司"),
        ("宏远电器股份公", "宏远电器股份公司"),
        ("宏远电器有限责任公", "宏远电器有限责任公司"),
        ("宏远电器有限任公司", "宏远电器有限责任公司"),
        ("宏远电器有限责公司", "宏远电器有限责任公司"),
        ("宏远电器有现公司", "宏远电器有限公司"),  # replaced
        ("宏远电器有限公丝", "宏远电器有限公司"),
        ("宏远电器有限公私", "宏远电器有限公司"),
        ("宏远电器有限责任公丝", "宏远电器有限责任公司"),
        ("宏远电器有限工司", "宏远电器有限公司"),
        ("宏远电器限有公司", "宏远电器有限公司"),  # swapped
        ("宏远电器有限司公", "宏远电器有限公司"),
        ("宏远电器股份有限司公", "宏远电器股份有限公司"),
        ("宏远电器有限公公司", "宏远电器有限公司"),  # an extra character
        ("宏远电器有限的公司", "宏远电器有限公司"),
        ("宏远电器有限公司司", "宏远电器有限公司"),
        ("宏远电器股份有限公司司", "宏远电器股份有限公司"),
        # 股份 misspelt before a spelt-out 有限公司
        ("宏远电器股有限公司", "宏远电器股份有限公司"),
        ("宏远电器份有限公司", "宏远电器股份有限公司"),
        ("宏远电器份股有限公司", "宏远电器股份有限公司"),
        ("宏远电器股闯有限公司", "宏远电器股份有限公司"),
        ("宏远电器股病份有限公司", "宏远电器股份有限公司"),
    ],
)
def test_a_legal_form_one_character_off_is_read_as_that_form(misspelt: str, spelt: str) -> None:
    assert _read(misspelt) == _read(spelt)
    assert analyse_once(misspelt).entity_class == "company"


@pytest.mark.parametrize(
    ("name", "core", "form"),
    [
        ("宏远电器有限", "宏远电器有限", ""),  # no 公司 at all: two characters off, nothing is taken for a form
        ("宏远电器有", "宏远电器有", ""),
        ("宏远电器公司", "宏远电器", "公司"),  # a form spelt out is not re-read as a longer one
        ("宏远控股公司", "宏远控股", "公司"),  # 控股公司 is a holding company, not a misspelt 股份公司
        ("宏远控股有限公司", "宏远控股", "有限公司"),
        ("宏远电器有限公司", "宏远电器", "有限公司"),
        ("宏远有限司", "宏远", "有限公司"),
        ("宏有限司", "宏有限司", ""),  # the rest would be one character: left alone
    ],
)
def test_a_fuzzy_form_never_eats_into_the_trade_name_or_industry(name: str, core: str, form: str) -> None:
    parts = analyse_once(name)
    assert (parts.core, parts.form) == (core, form)


# ------------------------------------------------------------ a region found anywhere


@pytest.mark.parametrize(
    ("moved", "prefixed"),
    [
        ("鼎新照明（浙江）集团有限公司", "浙江鼎新照明集团有限公司"),  # in brackets after the 字号
        ("鼎新照明集团（浙江）有限公司", "浙江鼎新照明集团有限公司"),
        ("鼎新照明浙江集团有限公司", "浙江鼎新照明集团有限公司"),  # before 集团
        ("鼎新照明浙江省集团有限公司", "浙江鼎新照明集团有限公司"),
        ("鼎新(浙江)照明集团有限公司", "浙江鼎新照明集团有限公司"),  # half-width brackets
        ("远洋水产品贸易（明光）有限公司", "明光市远洋水产品贸易有限公司"),  # a county-level city
        ("远洋水产品贸易（明光市）有限公司", "明光市远洋水产品贸易有限公司"),
        ("远洋水产品贸易（安徽明光）有限公司", "安徽省明光市远洋水产品贸易有限公司"),
        ("远洋水产品贸易（滁州）有限公司", "滁州市远洋水产品贸易有限公司"),  # a prefecture not in CITIES
        ("宏远电器（鄞州）有限公司", "鄞州区宏远电器有限公司"),
        ("宏远电器（宁波）有限公司", "宁波宏远电器有限公司"),
        ("宏远（宁波）电器有限公司", "宁波市宏远电器有限公司"),
        ("（宁波）宏远电器有限公司", "宁波宏远电器有限公司"),
        ("宏远电器（浙江宁波）有限公司", "浙江省宁波市宏远电器有限公司"),
    ],
)
def test_a_region_anywhere_is_the_same_core_and_the_same_evidence(moved: str, prefixed: str) -> None:
    assert _read(moved) == _read(prefixed)
    assert _read(moved)[2]  # a province is noted, on both


def test_counties_and_prefectures_read_with_their_suffix() -> None:
    # A county-level city is its own registering authority (as CITIES has 慈溪); a district is its city's.
    assert _read("明光市远洋水产品贸易有限公司") == ("远洋水产品贸易", "有限公司", ("安徽",), ("明光",))
    assert _read("滁州市远洋水产品贸易有限公司") == ("远洋水产品贸易", "有限公司", ("安徽",), ("滁州",))
    assert _read("鄞州区宏远电器有限公司") == _read("宁波市鄞州区宏远电器有限公司")
    assert PLACES["明光市"] == PLACES_SHORT["明光"] == ("安徽", "明光")
    assert PLACES["鄞州区"] == PLACES_SHORT["鄞州"] == ("浙江", "宁波")
    assert "朝阳区" not in PLACES  # Beijing's and Changchun's: names no one place
    assert "城区" not in PLACES


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("明光远洋水产品贸易有限公司", "明光远洋水产品贸易"),  # a county's bare name may be a 字号
        ("东方市场管理有限公司", "东方市场管理"),  # 东方市 is a city, 市场 a market
        ("华夏东方集团有限公司", "华夏东方集团"),  # a county's bare name before 集团 is not read
        ("宏远（国际）贸易有限公司", "宏远（国际）贸易"),
        ("宏远贸易（浙江大学）有限公司", "宏远贸易（浙江大学）"),  # a label is a region only when all of it is
        ("宁波市政工程有限公司", "市政工程"),
        ("宁波市市政工程有限公司", "市政工程"),
        ("（浙江）有限公司", "（浙江）"),  # nothing would be left
    ],
)
def test_what_is_not_a_region_stays_in_the_core(name: str, core: str) -> None:
    assert analyse_once(name).core == core


# ------------------------------------------------------------ through the index

REGISTRY = [
    RegistryRecord("A", "浙江鼎新照明集团有限公司"),
    RegistryRecord("B", "苏州锐拓精密机械有限公司"),
    RegistryRecord("C", "明光市远洋水产品贸易有限公司"),
    RegistryRecord("D", "宁波宏远电器有限公司"),
]


@pytest.fixture(scope="module")
def index() -> RegistryIndex:
    return RegistryIndex.build(REGISTRY)


@pytest.mark.parametrize(
    ("name", "org_id"),
    [
        ("鼎新照明（浙江）集团有限公司", "A"),  # the issue's four examples
        ("浙江鼎新照明集团有限司", "A"),
        ("苏州锐拓精密机械有限公", "B"),
        ("远洋水产品贸易（明光）有限公司", "C"),
        ("宏远电器（宁波）有限公丝", "D"),
    ],
)
def test_the_issues_examples_match(index: RegistryIndex, name: str, org_id: str) -> None:
    best = index.best(name)
    assert best is not None and best.org_id == org_id and best.decision is MatchDecision.MATCH
    assert best.explanation


@pytest.mark.parametrize(
    "name",
    [
        "鼎盛照明（浙江）集团有限公司",  # another 字号, the region moved
        "浙江鼎盛照明集团有限司",  # another 字号, the form misspelt
        "苏州锐达精密机械有限公",
        "远帆水产品贸易（明光）有限公司",
        "鼎新照明（江苏）集团有限公司",  # the same 字号 in another province
        "远洋水产品贸易（天长）有限公司",  # another county of the same prefecture
        "宏远电器（温州）有限公司",  # another city of the same province
    ],
)
def test_neither_rule_rescues_a_different_company(index: RegistryIndex, name: str) -> None:
    assert all(c.decision is not MatchDecision.MATCH for c in index.match(name, limit=10))
