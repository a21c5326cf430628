"""The matcher: normaliser cases, each §5.2 variant, each hard negative, thresholds, verdict memory."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from services.rules.matcher.index import BLOCK_LIMIT, COMPACT_AFTER, MatchThresholds, RegistryIndex, RegistryRecord
from services.rules.matcher.normalise import _strip_prefix, analyse
from services.rules.matcher.regions import place_of
from services.rules.matcher.screening import ScreeningInputError, screen_files
from shared.contracts.rules import MatchDecision
from shared.identifiers import make_uscc

HONGYUAN = make_uscc("330212", "PDY00001")
REGISTRY = [
    RegistryRecord(
        "A", "浙江宏远电器有限公司", HONGYUAN, ("宁波宏远家电有限公司",), "浙江省宁波市鄞州区姜山镇", "浙江", "宁波"
    ),
    RegistryRecord("B", "佛山市顺德区澄川电器制造有限公司", make_uscc("440606", "PDY00002"), (), "广东省佛山市顺德区"),
    RegistryRecord("C", "上海澄海食品股份有限公司", None, (), "上海市浦东新区", "上海"),
    RegistryRecord("D", "江苏凌岳线缆有限公司", None, (), "江苏省昆山市", "江苏"),
    RegistryRecord("E", "广东凌岳线缆有限公司", None, (), "广东省东莞市", "广东"),
]


@pytest.fixture(scope="module")
def index() -> RegistryIndex:
    return RegistryIndex.build(REGISTRY)


@pytest.mark.parametrize(
    ("name", "core", "form", "provinces", "branch"),
    [
        ("浙江宏远电器有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("浙江宏远电器有限责任公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("宏远电器（浙江）有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("宏远电器(浙江)有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("浙江 宏远电器　有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("浙江宏遠電器有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("浙江省宁波市鄞州区宏远电器有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("宁波巿宏远电器有限公司", "宏远电器", "有限公司", {"浙江"}, None),
        ("浙江宏远电器有限公司宁波分公司", "宏远电器", "有限公司", {"浙江"}, "宁波"),
        ("浙江宏远电器有限公司（宁波）分公司", "宏远电器", "有限公司", {"浙江"}, "宁波"),
        ("青岛澄海水产食品有限公司(受托方)", "澄海水产食品", "有限公司", {"山东"}, None),
        ("宏远电器（中国）有限公司", "宏远电器", "有限公司", set(), None),
        ("上海澄海食品股份公司", "澄海食品", "股份公司", {"上海"}, None),
        ("宁波市鄞州区宏远电器厂", "宏远电器", "厂", {"浙江"}, None),
        ("宁波市宏远电器有限公司(购进)", "宏远电器", "有限公司", {"浙江"}, None),
        ("宁波ａｂｃ电器有限公司", "ABC电器", "有限公司", {"浙江"}, None),  # Latin letters: width and case aside
        ("宁波Abc电器有限公司", "ABC电器", "有限公司", {"浙江"}, None),
        ("某某商贸（个体工商户）", "某某商贸", "个体工商户", set(), None),
    ],
)
def test_normaliser(name: str, core: str, form: str, provinces: set[str], branch: str | None) -> None:
    parts = analyse(name)
    assert (parts.core, parts.form, set(parts.provinces), parts.branch) == (core, form, provinces, branch)


@pytest.mark.parametrize(
    ("name", "core", "form"),
    [
        ("Robert Bosch GmbH", "ROBERTBOSCH", "GMBH"),
        ("ROBERT  BOSCH G.M.B.H", "ROBERTBOSCHGMBH", ""),  # not a form we know: kept in the core, no guess
        ("Ningbo Hongyuan Electric Appliance Co., Ltd.", "HONGYUANELECTRICAPPLIANCE", "LTD"),  # 宁波 noted
        ("NINGBO HONGYUAN ELECTRIC APPLIANCE COMPANY LIMITED", "HONGYUANELECTRICAPPLIANCE", "LTD"),
        ("Ｓｉｅｍｅｎｓ ＡＧ", "SIEMENS", "AG"),
        ("Bosch (China) Investment Ltd.", "BOSCHINVESTMENT", "LTD"),
        ("Procter & Gamble Company", "PROCTERGAMBLE", "CO"),
        ("Acme S.p.A.", "ACME", "SPA"),
    ],
)
def test_english_names_are_taken_apart(name: str, core: str, form: str) -> None:
    parts = analyse(name)
    assert (parts.core, parts.form, parts.entity_class) == (core, form, "company" if form else "unknown")


@pytest.mark.parametrize(
    ("name", "core", "provinces", "cities"),
    [
        ("Ningbo Hongyuan Electric Appliance Co., Ltd.", "HONGYUANELECTRICAPPLIANCE", ("浙江",), ("宁波",)),
        ("Hongyuan Electric Appliance (Ningbo) Co., Ltd.", "HONGYUANELECTRICAPPLIANCE", ("浙江",), ("宁波",)),
        ("ZHEJIANG NINGBO HONGYUAN ELECTRIC APPLIANCE CO LTD", "HONGYUANELECTRICAPPLIANCE", ("浙江",), ("宁波",)),
        ("Xi'an Hongyuan Co., Ltd.", "HONGYUAN", ("陕西",), ("西安",)),
        ("Hong Kong Hongyuan Trading Limited", "HONGYUANTRADING", ("香港",), ()),
        ("Taizhou Hongyuan Co., Ltd.", "HONGYUAN", (), ()),  # 泰州 (Jiangsu) or 台州 (Zhejiang): neither noted
        ("Ningbo Co., Ltd.", "NINGBO", (), ()),  # a name is never stripped to nothing
    ],
)
def test_a_region_in_an_english_name_is_dropped_and_noted(
    name: str, core: str, provinces: tuple[str, ...], cities: tuple[str, ...]
) -> None:
    parts = analyse(name)
    assert (parts.core, parts.provinces, parts.cities) == (core, provinces, cities)


def test_english_regions_agree_or_contradict_like_chinese_ones() -> None:
    index = RegistryIndex.build([RegistryRecord("F", "Hongyuan Electric Appliance (Ningbo) Co., Ltd.", None, (), None)])
    same = index.best("Ningbo Hongyuan Electric Appliance Co., Ltd.")
    assert (
        same and same.org_id == "F" and same.decision is MatchDecision.MATCH and "province: agrees" in same.explanation
    )
    assert index.match("Guangzhou Hongyuan Electric Appliance Co., Ltd.") == []  # another province: another company


@pytest.mark.parametrize(
    ("text", "rest", "provinces", "cities"),
    [
        ("浙江省宁波市鄞州区宏远电器", "宏远电器", {"浙江"}, {"宁波"}),
        ("北京市宏远", "宏远", {"北京"}, {"北京"}),  # a municipality is a province and a city
        ("上海澄海食品", "澄海食品", {"上海"}, {"上海"}),
        ("广西壮族自治区南宁市宏远", "宏远", {"广西"}, {"南宁"}),
        ("佛山市顺德区澄川电器制造", "澄川电器制造", {"广东"}, {"佛山"}),  # a city names its province
        ("深圳市宝安区", "宝安区", {"广东"}, {"深圳"}),  # at least two characters are kept
        ("浙江省宁波", "宁波", {"浙江"}, set()),
        ("宁波市", "宁波市", set(), set()),
        ("吉林化工", "化工", {"吉林"}, set()),
        ("吉林市宏远化工", "宏远化工", {"吉林"}, {"吉林"}),  # the city named like its province
        ("吉林省吉林市宏远化工", "宏远化工", {"吉林"}, {"吉林"}),
        ("宏远电器", "宏远电器", set(), set()),
    ],
)
def test_a_leading_region_is_stripped_and_noted(text: str, rest: str, provinces: set[str], cities: set[str]) -> None:
    found: tuple[set[str], set[str]] = (set(), set())
    assert (_strip_prefix(text, *found), found) == (rest, (provinces, cities))


@pytest.mark.parametrize(
    ("place", "province", "city"),
    [
        ("浙江省宁波市某某路1号", "浙江", "宁波"),
        ("北京市朝阳区", "北京", "北京"),
        ("上海", "上海", "上海"),
        ("宁波市鄞州区", "浙江", "宁波"),
        ("广西壮族自治区南宁市", "广西", "南宁"),
        ("吉林省吉林市", "吉林", "吉林"),
        ("吉林市船营区", "吉林", "吉林"),
        ("吉林省长春市", "吉林", "长春"),
        ("内蒙古自治区包头市", "内蒙古", "包头"),
        ("新疆维吾尔自治区乌鲁木齐市", "新疆", "乌鲁木齐"),
        ("广东深圳", "广东", "深圳"),
        ("杭州", "浙江", "杭州"),
        ("浙江省", "浙江", None),
        ("某某路1号", None, None),
        ("", None, None),
    ],
)
def test_a_place_names_its_province_and_city(place: str, province: str | None, city: str | None) -> None:
    assert place_of(place) == (province, city)


@pytest.mark.parametrize("placeholder", ["/", "—", "无", "  ", "／"])
def test_placeholders_match_nothing(index: RegistryIndex, placeholder: str) -> None:
    assert analyse(placeholder).is_placeholder
    assert index.best(placeholder) is None


@pytest.mark.parametrize(
    "name",
    [
        "浙江宏远电器有限公司",
        "浙江宏远电器有限责任公司",
        "宏远电器（浙江）有限公司",
        "宁波市宏远电器有限公司",
        "浙江省宁波市鄞州区宏远电器有限公司",
        "浙江宏遠電器有限公司",
        "宁波巿宏远电器有限公司",
        "浙江宏远电器有限公司(受托方)",
        "宏远电器有限公司",
        "宁波宏远家电有限公司",  # a former name
        HONGYUAN,  # the registry shows the code in place of the name
    ],
)
def test_variants_of_a_certified_name_match_it(index: RegistryIndex, name: str) -> None:
    best = index.best(name)
    assert best is not None and best.org_id == "A" and best.decision is MatchDecision.MATCH, best


def test_an_exact_valid_code_wins_and_explains_itself(index: RegistryIndex) -> None:
    best = index.best("完全不同的名字有限公司", HONGYUAN)
    assert best and best.org_id == "A" and best.score == 1.0 and best.method == "credit_code"
    assert "统一社会信用代码一致" in best.explanation


def test_an_invalid_code_is_never_a_key(index: RegistryIndex) -> None:
    wrong = HONGYUAN[:-1] + ("0" if HONGYUAN[-1] != "0" else "1")
    best = index.best("某某无关有限公司", wrong)
    # One character off a registered code: a lead for review (issue 11), never an automatic match.
    assert best is None or best.decision is not MatchDecision.MATCH


def test_a_branch_is_linked_to_its_parent_for_review(index: RegistryIndex) -> None:
    best = index.best("浙江宏远电器有限公司宁波分公司")
    assert best and best.org_id == "A" and best.decision is MatchDecision.REVIEW and best.method == "branch"
    assert "branch" in best.explanation


def test_a_registered_branch_does_not_make_its_parents_name_ambiguous() -> None:
    parent, branch = analyse("浙江宏远电器有限公司"), "浙江宏远电器有限公司宁波分公司"
    both = RegistryIndex.build([REGISTRY[0], RegistryRecord("A-NB", branch, None, (), "浙江省宁波市", "浙江", "宁波")])
    assert parent.key == analyse(branch).key  # the branch shares its parent's key: the case that once tied
    named = both.match("浙江宏远电器有限公司")
    assert named[0].org_id == "A" and named[0].decision is MatchDecision.MATCH
    assert [(c.org_id, c.decision, c.method) for c in named[1:]] == [("A-NB", MatchDecision.REVIEW, "branch")]
    exact_branch = both.best(branch)
    assert exact_branch and exact_branch.org_id == "A-NB" and exact_branch.decision is MatchDecision.MATCH
    other_branch = both.match("浙江宏远电器有限公司杭州分公司")
    assert [(c.org_id, c.decision) for c in other_branch] == [("A", MatchDecision.REVIEW)]  # not the Ningbo branch


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("广东宏远电器有限公司", "same 字号 in another province"),
        ("温州市宏远电器有限公司", "same 字号 in another city of the same province"),
        ("广州市澄川电器制造有限公司", "same 字号 registered in another city"),
        ("浙江宏远电子有限公司", "another industry word"),
        ("宁波市鄞州区宏远电器厂", "a workshop sharing the 字号"),
        ("浙江宏达电器有限公司", "字号 one character off"),
    ],
)
def test_hard_negatives_are_never_auto_matched(index: RegistryIndex, name: str, why: str) -> None:
    best = index.best(name)
    assert best is None or best.decision is not MatchDecision.MATCH, why


def test_an_english_name_matches_whatever_its_case_punctuation_and_form_spelling() -> None:
    index = RegistryIndex.build([RegistryRecord("F", "Robert Bosch Power Tools Co., Ltd.", None, (), None)])
    for name in ("ROBERT BOSCH POWER TOOLS COMPANY LIMITED", "Robert Bosch (China) Power Tools Co.,Ltd"):
        best = index.best(name)
        assert best and best.org_id == "F" and best.decision is MatchDecision.MATCH, name
    other = index.best("Robert Bosch Power Tools Inc.")  # another legal form: a lead at most
    assert other is None or other.decision is not MatchDecision.MATCH
    assert index.best("Robert Bosch Thermotechnology Co., Ltd.") is None


def test_a_dropped_character_is_a_lead_for_review(index: RegistryIndex) -> None:
    best = index.best("浙江宏电器有限公司")  # 远 lost in an OCR'd bulletin
    assert best and best.org_id == "A" and best.decision is MatchDecision.REVIEW and best.method == "name:fuzzy"


def test_a_name_carrying_another_city_is_another_company(index: RegistryIndex) -> None:
    """A name is registered with a city's authority: 广州市澄川电器制造 is not 佛山市…澄川电器制造."""
    assert index.match("广州市澄川电器制造有限公司") == []  # the same 字号+行业, not even a lead
    elsewhere = index.best("澄川电器制造有限公司", address="广东省广州市天河区")  # a site, not the name, elsewhere
    assert elsewhere and elsewhere.org_id == "B" and elsewhere.decision is MatchDecision.REVIEW


def test_a_different_valid_code_means_a_different_entity(index: RegistryIndex) -> None:
    other = make_uscc("330212", "PDY00999")
    best = index.best("浙江宏远电器有限公司", other)
    assert best is None or best.decision is MatchDecision.NONE


def test_two_organisations_fitting_a_name_equally_go_to_review(index: RegistryIndex) -> None:
    best = index.best("凌岳线缆有限公司")  # no region: Jiangsu's or Guangdong's?
    assert best and best.decision is MatchDecision.REVIEW and "organisations fit" in best.explanation
    assert index.best("江苏凌岳线缆有限公司").decision is MatchDecision.MATCH  # type: ignore[union-attr]


def test_a_company_that_changed_its_form_is_a_lead(index: RegistryIndex) -> None:
    best = index.best("上海澄海食品有限公司")
    assert best and best.org_id == "C" and best.decision is MatchDecision.REVIEW


def test_thresholds_are_configurable() -> None:
    strict = RegistryIndex.build(REGISTRY, MatchThresholds(match=0.99, review=0.5))
    assert strict.best("宏远电器有限公司").decision is MatchDecision.REVIEW  # type: ignore[union-attr]
    assert MatchThresholds().decide(0.9) is MatchDecision.MATCH
    assert MatchThresholds().decide(0.6) is MatchDecision.REVIEW
    assert MatchThresholds().decide(0.59) is MatchDecision.NONE


def test_verdicts_are_remembered(index: RegistryIndex) -> None:
    memory = RegistryIndex.build(REGISTRY)
    memory.verdicts[(analyse("浙江宏远电器有限公司宁波分公司").folded, "A")] = True
    memory.verdicts[(analyse("浙江宏远电器有限公司").folded, "A")] = False
    confirmed = memory.best("浙江宏远电器有限公司宁波分公司")
    assert (
        confirmed and confirmed.decision is MatchDecision.MATCH and "confirmed by a reviewer" in confirmed.explanation
    )
    rejected = memory.match("浙江宏远电器有限公司")
    assert rejected and rejected[0].decision is MatchDecision.NONE and "never matched again" in rejected[0].explanation


def test_upsert_and_remove_keep_the_index_current() -> None:
    live = RegistryIndex.build(REGISTRY)
    live.upsert(RegistryRecord("A", "浙江宏远智能电器有限公司", HONGYUAN, ("浙江宏远电器有限公司",), "浙江省宁波市"))
    assert live.best("浙江宏远智能电器有限公司").org_id == "A"  # type: ignore[union-attr]
    assert live.best("浙江宏远电器有限公司").method == "name:former"  # type: ignore[union-attr]
    live.remove("B")
    assert live.best("佛山市顺德区澄川电器制造有限公司") is None and len(live) == 4


def test_a_long_lived_index_drops_the_entries_of_replaced_organisations() -> None:
    live = RegistryIndex.build(REGISTRY)
    for edit in range(COMPACT_AFTER + 1):  # the live registry replaces an organisation on every edit
        live.upsert(RegistryRecord("A", "浙江宏远智能电器有限公司", HONGYUAN, (), f"浙江省宁波市某某路{edit}号"))
    assert live._removed < COMPACT_AFTER
    entries = [e for entries in live._by_core.values() for e in entries]
    assert all(live._orgs[e.org] is not None for e in entries)
    found = live.best("浙江宏远智能电器有限公司")
    assert found is not None and (found.org_id, found.decision) == ("A", MatchDecision.MATCH)


def test_compacting_counts_a_capped_fuzzy_block_again() -> None:
    cores = ["宏远" + chr(0x5F00 + i) + "电器" for i in range(BLOCK_LIMIT + 5)]
    live = RegistryIndex.build(  # without the n-gram path, which would find the name past the capped blocks
        (RegistryRecord(f"O{i}", core + "有限公司") for i, core in enumerate(cores)), ngrams=False
    )
    # One character off the last one, which came after its blocks were capped: a lead for review.
    typo = cores[-1][:-1] + "气有限公司"
    for i in range(1, 11):
        live.remove(f"O{i}")
    assert live.best(typo) is None  # both of its blocks are still past the limit
    live.compact()
    found = live.best(typo)
    assert found is not None and (found.org_id, found.method, found.decision) == (
        f"O{len(cores) - 1}",
        "name:fuzzy",
        MatchDecision.REVIEW,
    )


def test_screening_files_one_row_per_record_and_bad_rows_explained(tmp_path: Path) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(
        "org_id,name,credit_code,former_names,address\n"
        f"A,浙江宏远电器有限公司,{HONGYUAN},宁波宏远家电有限公司|宏远电器厂,浙江省宁波市\n",
        encoding="utf-8",
    )
    records = tmp_path / "in.csv"
    records.write_text(
        "record_id,name,credit_code,address\n1,宏远电器（浙江）有限公司,,\n2,毫不相干有限公司,,\n3,,,\n4,宁波宏远家电有限公司,,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.csv"
    summary = screen_files(records, out, registry)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["record_id"] for r in rows] == ["1", "2", "3", "4"]
    assert {"record_id", "org_id", "score", "decision", "explanation"} <= set(rows[0])
    assert (rows[0]["org_id"], rows[0]["decision"]) == ("A", "match")
    assert (rows[1]["org_id"], rows[1]["decision"]) == ("", "none")
    assert rows[2]["decision"] == "none" and "neither a name nor a credit code" in rows[2]["explanation"]
    assert rows[3]["org_id"] == "A" and "former name" in rows[3]["explanation"]
    assert summary.records == 4 and summary.problems == 1


def test_screening_refuses_a_file_without_its_columns(tmp_path: Path) -> None:
    records = tmp_path / "in.csv"
    records.write_text("id,company\n1,x\n", encoding="utf-8")
    registry = tmp_path / "registry.csv"
    registry.write_text("org_id,name\nA,浙江宏远电器有限公司\n", encoding="utf-8")
    with pytest.raises(ScreeningInputError, match="record_id, name"):
        screen_files(records, tmp_path / "out.csv", registry)
