"""Issue 10 (point 6) in the matcher: codes as issued as keys, a branch with its own code, and a name
that names several parties (`委托方：X；受委托方：Y`) screened party by party."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from services.rules.matcher.index import Candidate, RegistryIndex, RegistryRecord, subject_key
from services.rules.matcher.screening import screen_files
from shared import compiled
from shared.contracts.rules import MatchDecision
from shared.identifiers import make_uscc, org_code_check_char, uscc_check_char
from shared.parties import CellParty, split_parties

HONGYUAN = make_uscc("330212", "PDY00001")
OTHER = make_uscc("330106", "PDY00077")  # valid, and nobody's in the registry
COOP = "321081NA000275X"


def _org_check_fails(body: str = "PDY00101") -> str:
    wrong = "0" if org_code_check_char(body) != "0" else "1"
    first17 = f"91320583{body}{wrong}"
    return first17 + uscc_check_char(first17)


ODD = _org_check_fails()
REGISTRY = [
    RegistryRecord("A", "浙江宏远电器有限公司", HONGYUAN, (), "浙江省宁波市鄞州区姜山镇", "浙江", "宁波"),
    RegistryRecord("B", "上海澄海食品股份有限公司", None, (), "上海市浦东新区", "上海"),
    RegistryRecord("C", "仪征市绿源果蔬专业合作社", COOP, (), "江苏省扬州市仪征市"),
    RegistryRecord("D", "苏州凌岳线缆有限公司", ODD, (), "江苏省苏州市"),
    RegistryRecord("E", "Robert Bosch GmbH", None, (), None),
]


@pytest.fixture(scope="module")
def index() -> RegistryIndex:
    return RegistryIndex.build(REGISTRY)


# ------------------------------------------------------------------ codes as issued


def test_a_cooperatives_registration_number_is_a_match_key(index: RegistryIndex) -> None:
    best = index.best("完全不同的名字", COOP)
    assert best and best.org_id == "C" and best.method == "credit_code" and best.decision is MatchDecision.MATCH
    named = index.best(COOP)  # the number printed in place of the name
    assert named and named.org_id == "C" and named.method == "credit_code"
    lower = index.best("某合作社", COOP.lower())
    assert lower and lower.org_id == "C"


def test_a_code_with_a_failing_organisation_check_is_a_key_and_the_match_says_so(index: RegistryIndex) -> None:
    best = index.best("完全不同的名字有限公司", ODD)
    assert best and best.org_id == "D" and best.method == "credit_code" and best.decision is MatchDecision.MATCH
    assert best.score == 1.0
    assert "embedded organisation code (GB 11714) check fails; accepted as issued" in best.explanation
    ordinary = index.best("完全不同的名字有限公司", HONGYUAN)
    assert ordinary and ordinary.org_id == "A" and "GB 11714" not in ordinary.explanation


def test_a_registered_code_with_a_failing_organisation_check_vetoes_like_any_valid_code(index: RegistryIndex) -> None:
    """It is a valid code now: a name match to D with another valid code is another entity."""
    best = index.best("苏州凌岳线缆有限公司", OTHER)
    assert best is None or best.decision is MatchDecision.NONE


# ------------------------------------------------------------------ a branch with its own code


def test_a_branch_with_its_own_code_is_linked_to_its_parent_for_review(index: RegistryIndex) -> None:
    best = index.best("浙江宏远电器有限公司杭州分公司", OTHER)
    assert best and best.org_id == "A", best
    assert best.decision is MatchDecision.REVIEW and best.method == "branch"
    assert "a branch has its own code" in best.explanation
    assert "a branch (杭州) of this organisation" in best.explanation
    differs = [e for e in best.evidence if e.field == "credit_code"]
    assert [(e.signal_value, e.registry_value) for e in differs] == [(OTHER, HONGYUAN)]
    assert best.summary().decision is MatchDecision.REVIEW


def test_a_branch_with_its_own_code_gets_what_a_branch_without_one_gets(index: RegistryIndex) -> None:
    coded, bare = index.best("浙江宏远电器有限公司宁波分公司", OTHER), index.best("浙江宏远电器有限公司宁波分公司")
    assert coded and bare and (coded.org_id, coded.score, coded.decision) == (bare.org_id, bare.score, bare.decision)


def test_a_different_valid_code_on_a_name_that_is_no_branch_still_vetoes(index: RegistryIndex) -> None:
    best = index.best("浙江宏远电器有限公司", OTHER)
    assert best is None or best.decision is MatchDecision.NONE
    assert index.match("浙江宏远电器有限公司", OTHER) == []


def test_another_branch_with_a_different_code_is_no_link() -> None:
    """A registered branch and another branch of the same parent: different entities, codes or not."""
    branch = RegistryRecord(
        "A-NB", "浙江宏远电器有限公司宁波分公司", make_uscc("330212", "PDY00002"), (), "浙江省宁波市"
    )
    both = RegistryIndex.build([REGISTRY[0], branch])
    found = both.match("浙江宏远电器有限公司杭州分公司", OTHER)
    assert [c.org_id for c in found] == ["A"] and found[0].decision is MatchDecision.REVIEW


# ------------------------------------------------------------------ several parties in one name


def test_the_party_that_matches_is_reported_with_its_role(index: RegistryIndex) -> None:
    best = index.best("委托方：杭州某某贸易有限公司；受委托方：浙江宏远电器有限公司")
    assert best and best.org_id == "A" and best.decision is MatchDecision.MATCH
    assert best.explanation.startswith("受委托方 (contract manufacturer): name: same 字号+行业")
    party = best.evidence[0]
    assert (party.field, party.how, party.signal_value) == (
        "party",
        "受委托方 (contract manufacturer)",
        "浙江宏远电器有限公司",
    )
    assert best.summary().evidence[0].field == "party"


@pytest.mark.parametrize(
    ("name", "org_id", "role"),
    [
        ("生产商：上海澄海食品股份有限公司；经销商：北京某某商贸有限公司", "B", "生产商 (manufacturer)"),
        ("生产商：北京某某商贸有限公司；经销商：上海澄海食品股份有限公司", "B", "经销商 (distributor)"),
        ("进口商：Robert Bosch GmbH（原产国：德国）", "E", "进口商 (importer)"),
        ("浙江宏远电器有限公司（受托方）", "A", "受托方 (contract manufacturer)"),
    ],
)
def test_each_shape_of_a_multi_party_name(index: RegistryIndex, name: str, org_id: str, role: str) -> None:
    best = index.best(name)
    assert best and best.org_id == org_id and best.decision is MatchDecision.MATCH, best
    assert best.explanation.startswith(f"{role}: "), best.explanation


def test_each_party_is_matched_with_its_own_address(index: RegistryIndex) -> None:
    """An address cell labelled like the name cell gives each party its own address, and only its own."""
    registry = RegistryIndex.build(
        [*REGISTRY, RegistryRecord("F", "宏达五金制品有限公司", None, (), "广东省佛山市顺德区")]
    )
    name = "委托方：杭州某某贸易有限公司；受委托方：宏达五金制品有限公司"
    own = registry.best(name, address="委托方地址：浙江省杭州市；受委托方地址：广东省佛山市顺德区")
    assert own and own.org_id == "F" and own.decision is MatchDecision.MATCH and "province: agrees" in own.explanation
    swapped = registry.best(name, address="委托方地址：广东省佛山市；受委托方地址：浙江省杭州市")
    assert swapped is None  # the same name in another province: another company
    shared = registry.best(name, address="浙江省杭州市")  # one address for two parties: given to neither
    assert shared and shared.decision is MatchDecision.MATCH and "province" not in shared.explanation


def test_match_parties_pairs_each_candidate_with_its_party(index: RegistryIndex) -> None:
    parties = split_parties("委托方：上海澄海食品股份有限公司；受委托方：浙江宏远电器有限公司")
    pairs = index.match_parties(parties)
    assert [(p.role, c.org_id) for p, c in pairs] == [("entrusting", "B"), ("entrusted", "A")]
    assert all(isinstance(c, Candidate) and c.evidence[0].field == "party" for _, c in pairs)
    assert index.match_parties([]) == []
    assert [c.org_id for _, c in index.match_parties(parties, limit=1)] == ["B"]


def test_a_party_with_no_role_is_matched_as_a_plain_name(index: RegistryIndex) -> None:
    """What the rules service gets for a signal whose cell names no role: exactly what match gives."""
    plain = split_parties("浙江宏远电器有限公司", "浙江省宁波市")
    assert plain == [CellParty("浙江宏远电器有限公司", address="浙江省宁波市")]
    pairs = index.match_parties(plain, HONGYUAN)
    assert [c for _, c in pairs] == index.match("浙江宏远电器有限公司", HONGYUAN, "浙江省宁波市")


def test_a_registered_code_goes_to_the_party_whose_name_fits_it(index: RegistryIndex) -> None:
    name = "委托方：上海澄海食品股份有限公司；受委托方：浙江宏远电器有限公司"
    pairs = index.match_parties(split_parties(name), HONGYUAN)
    by_org = {c.org_id: (p, c) for p, c in pairs}
    party, hit = by_org["A"]
    assert party.role == "entrusted" and hit.method == "credit_code" and hit.score == 1.0
    assert hit.explanation.startswith("受委托方 (contract manufacturer): credit_code: 统一社会信用代码一致")
    assert by_org["B"][1].decision is MatchDecision.MATCH  # the other party's code is unknown: no veto


def test_a_registered_code_that_fits_no_partys_name_still_decides(index: RegistryIndex) -> None:
    name = "委托方：杭州某某贸易有限公司；受委托方：宁波某某电器厂"
    pairs = index.match_parties(split_parties(name), HONGYUAN)
    assert len(pairs) == 1
    party, hit = pairs[0]
    assert hit.org_id == "A" and hit.method == "credit_code" and party.role is None and party.name == ""
    assert hit.explanation.startswith("the credit code (its organisation fits no named party's name): credit_code:")


def test_an_unregistered_code_is_held_against_no_party_of_several(index: RegistryIndex) -> None:
    name = "委托方：杭州某某贸易有限公司；受委托方：浙江宏远电器有限公司"
    best = index.best(name, OTHER)  # whose code? the commissioning party's, perhaps: A is still matched
    assert best and best.org_id == "A" and best.decision is MatchDecision.MATCH
    one = index.best("受委托方：浙江宏远电器有限公司", OTHER)  # one party: the code is its own, and differs
    assert one is None or one.decision is MatchDecision.NONE


def test_verdicts_on_a_multi_party_name_are_remembered() -> None:
    index = RegistryIndex.build(REGISTRY)
    name = "委托方：杭州某某贸易有限公司；受委托方：浙江宏远电器有限公司"
    index.verdicts[(subject_key(name), "A")] = False  # recorded against the name as the signal printed it
    rejected = index.match(name)
    assert [(c.org_id, c.decision, c.method) for c in rejected] == [("A", MatchDecision.NONE, "verdict")]
    assert rejected[0].explanation.startswith("受委托方 (contract manufacturer): ")
    index.verdicts = {(subject_key("浙江宏远电器有限公司"), "A"): False}  # or against the party's own name
    assert index.best(name).method == "verdict"  # type: ignore[union-attr]


def test_a_name_naming_no_role_is_matched_as_before(index: RegistryIndex) -> None:
    for name in ("浙江宏远电器有限公司", "宏远电器（浙江）有限公司", "浙江宏远电器有限公司(宁波)分公司"):
        best = index.best(name)
        assert best and best.org_id == "A" and best.evidence[0].field != "party", name


def test_screening_a_file_reports_the_best_party_and_its_role(tmp_path: Path, index: RegistryIndex) -> None:
    records = tmp_path / "in.csv"
    with records.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "name", "credit_code", "address"])
        writer.writerow(["1", "委托方：杭州某某贸易有限公司；受委托方：浙江宏远电器有限公司", "", ""])
        writer.writerow(["2", "生产商：上海澄海食品股份有限公司；经销商：北京某某商贸有限公司", "", ""])
        writer.writerow(["3", "进口商：Robert Bosch GmbH（原产国：德国）", "", ""])
        writer.writerow(["4", "浙江宏远电器有限公司", "", ""])
        writer.writerow(["5", "委托方：杭州某某贸易有限公司；受委托方：宁波某某电器厂", "", ""])
        writer.writerow(["6", "浙江宏远电器有限公司杭州分公司", OTHER, ""])
    out = tmp_path / "out.csv"
    summary = screen_files(records, out, index=index)
    rows = {r["record_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert (rows["1"]["org_id"], rows["1"]["decision"]) == ("A", "match")
    assert rows["1"]["explanation"].startswith("受委托方 (contract manufacturer): ")
    assert (rows["2"]["org_id"], rows["2"]["decision"]) == ("B", "match")
    assert rows["2"]["explanation"].startswith("生产商 (manufacturer): ")
    assert rows["3"]["org_id"] == "E" and rows["3"]["explanation"].startswith("进口商 (importer): ")
    assert rows["4"]["org_id"] == "A" and rows["4"]["explanation"].startswith("name: ")
    assert (rows["5"]["org_id"], rows["5"]["decision"]) == ("", "none")
    assert (rows["6"]["org_id"], rows["6"]["decision"], rows["6"]["method"]) == ("A", "review", "branch")
    assert summary.decisions == {"match": 4, "review": 1, "none": 1}


# ------------------------------------------------------------------ compiled and source agree

SCRIPT = r"""
import json, sys
from services.rules.matcher.index import RegistryIndex, RegistryRecord
from shared.compiled import COMPILED, is_compiled
from shared.identifiers import make_uscc, quick_valid, check_code
from shared.parties import split_parties
sys.path.insert(0, ".")
from services.rules.tests.unit.test_matcher_issue10 import REGISTRY, HONGYUAN, OTHER, COOP, ODD

index = RegistryIndex.build(REGISTRY)
names = [
    ("浙江宏远电器有限公司杭州分公司", OTHER, None, None), ("浙江宏远电器有限公司", OTHER, None, None),
    ("某合作社", COOP, None, None), (COOP, None, None, None), ("某某有限公司", ODD, None, None),
    ("委托方：杭州某某贸易有限公司；受委托方：浙江宏远电器有限公司", None, None, None),
    ("委托方：上海澄海食品股份有限公司；受委托方：浙江宏远电器有限公司", HONGYUAN, "委托方地址：广州；受委托方地址：宁波", None),
    ("委托方：杭州某某贸易有限公司；受委托方：宁波某某电器厂", HONGYUAN, None, None),
    ("进口商：Robert Bosch GmbH（原产国：德国）", None, None, None), ("浙江宏远电器有限公司（受托方）", OTHER, None, "浙江"),
]
found = [[(c.org_id, repr(c.score), c.decision.value, c.method, c.matched_name, c.evidence, c.explanation)
          for c in index.match(*n)] for n in names]
codes = [(quick_valid(c), check_code(c).warning) for c in (COOP, ODD, HONGYUAN, COOP.lower())]
print(json.dumps({"compiled": [m for m in COMPILED if is_compiled(sys.modules[m])], "found": found, "codes": codes},
                 ensure_ascii=False))
"""


def _run(pure: bool) -> dict[str, Any]:
    env = {**os.environ, compiled.PURE_PYTHON: "1" if pure else ""}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=compiled.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_compiled_matcher_agrees_with_its_source_on_the_new_paths() -> None:
    if not all(compiled.extension_of(m).exists() for m in compiled.COMPILED):
        pytest.skip("the matcher is not compiled here: `make install` compiles it")
    reference, built = _run(pure=True), _run(pure=False)
    assert reference["compiled"] == [] and built["compiled"] == list(compiled.COMPILED)
    assert built["found"] == reference["found"] and built["codes"] == reference["codes"]
    assert sum(1 for f in reference["found"] if f) >= 8  # the comparison compares something
