"""Several parties in one bulletin cell (shared/parties.py): each party with its role, its own address when the
address cell can be paired with it, and an importer's country of origin; a cell naming no role is one party."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.parties import ROLE_LABELS, ROLE_NAMES, CellParty, has_roles, role_text, split_parties

HONGYUAN, CIXI = "浙江宏远电器有限公司", "慈溪市宏达电器厂"


def roles(cell: str, address: str | None = None) -> list[tuple[str, str | None, str | None]]:
    return [(p.name, p.role, p.address) for p in split_parties(cell, address)]


def test_an_entrusted_production_is_two_parties_with_their_own_addresses_paired_by_role() -> None:
    cell = f"委托方：{HONGYUAN}；受委托方：{CIXI}"
    address = "受委托方地址：浙江省慈溪市周巷镇；委托方地址：浙江省宁波市鄞州区"  # printed in the other order
    assert roles(cell, address) == [
        (HONGYUAN, "entrusting", "浙江省宁波市鄞州区"),
        (CIXI, "entrusted", "浙江省慈溪市周巷镇"),
    ]


def test_the_longer_label_wins_so_an_entrusted_party_is_never_read_as_the_entrusting_one() -> None:
    [party] = split_parties(f"受委托生产企业：{CIXI}")
    assert (party.role, party.label) == ("entrusted", "受委托生产企业")
    [party] = split_parties(f"受托方：{CIXI}")
    assert party.role == "entrusted"


def test_addresses_without_labels_are_paired_by_position_when_there_are_as_many() -> None:
    assert roles("生产商：甲公司；经销商：乙公司", "浙江省宁波市；浙江省杭州市") == [
        ("甲公司", "manufacturer", "浙江省宁波市"),
        ("乙公司", "distributor", "浙江省杭州市"),
    ]


def test_one_address_for_several_parties_is_given_to_none_of_them() -> None:
    assert roles("生产商：甲公司；经销商：乙公司", "浙江省宁波市") == [
        ("甲公司", "manufacturer", None),
        ("乙公司", "distributor", None),
    ]


def test_an_address_cell_with_labels_of_other_roles_leaves_the_unlabelled_party_without_one() -> None:
    assert roles("生产商：甲公司；经销商：乙公司", "生产商地址：浙江省宁波市") == [
        ("甲公司", "manufacturer", "浙江省宁波市"),
        ("乙公司", "distributor", None),
    ]


def test_roles_printed_after_the_names_in_brackets() -> None:
    assert roles(f"{HONGYUAN}（委托方）；{CIXI}(受委托方)") == [
        (HONGYUAN, "entrusting", None),
        (CIXI, "entrusted", None),
    ]


def test_an_importers_country_of_origin_is_kept_apart_from_its_name() -> None:
    [party] = split_parties("进口商：米兰贸易（上海）有限公司（原产国：意大利）")
    assert (party.name, party.role, party.origin) == ("米兰贸易（上海）有限公司", "importer", "意大利")
    [party] = split_parties("进口商：某某贸易有限公司（产地）")
    assert (party.name, party.origin) == ("某某贸易有限公司", None)


@pytest.mark.parametrize(
    "cell",
    [
        HONGYUAN,
        f"{HONGYUAN}（中国）",  # a bracket that is part of the name, not a role
        f"宏远 生产商：{CIXI}",  # a name before the first label: the cell is not split
        f"{HONGYUAN}（委托方）；{CIXI}（受委托方）以及其他",  # text after the last bracketed role
    ],
)
def test_a_cell_that_cannot_be_taken_apart_is_one_party_with_no_role(cell: str) -> None:
    [party] = split_parties(cell, " 浙江省宁波市 ")
    assert party == CellParty(cell.strip(), address="浙江省宁波市")


@pytest.mark.parametrize("cell", ["", "  ；", "生产商：", "生产商：；经销商："])
def test_a_cell_with_no_name_gives_no_party(cell: str) -> None:
    assert split_parties(cell) == []


def test_separators_and_ideographic_spaces_around_names_are_dropped() -> None:
    assert roles("　生产商： 甲公司 ，经销商：乙公司。") == [
        ("甲公司", "manufacturer", None),
        ("乙公司", "distributor", None),
    ]


def test_a_label_with_name_after_it_is_still_a_label() -> None:
    assert roles("生产企业名称：甲公司；经销商的名称：乙公司") == [
        ("甲公司", "manufacturer", None),
        ("乙公司", "distributor", None),
    ]


def test_has_roles_says_whether_a_cell_needs_taking_apart() -> None:
    assert has_roles("委托方：甲；受委托方：乙") and has_roles("甲（生产商）")
    assert not has_roles(HONGYUAN) and not has_roles("") and not has_roles(None)
    assert not has_roles("生产商甲公司")  # a label without its colon is part of a name


def test_role_text_names_the_role_as_printed_and_in_english() -> None:
    assert role_text("entrusted", "受托方") == "受托方 (contract manufacturer)"
    assert role_text("importer") == "进口商 (importer)"
    assert role_text(None, "监制") == "监制" and role_text(None) == "" and role_text("unknown") == ""
    [party] = split_parties(f"监制商：{HONGYUAN}")
    assert party.role_text == "监制商 (supervising brand owner)"


def test_every_label_maps_to_a_role_with_words() -> None:
    assert set(ROLE_LABELS.values()) == set(ROLE_NAMES)
    for label_text, role in ROLE_LABELS.items():
        [party] = split_parties(f"{label_text}：甲公司")
        assert (party.name, party.role, party.label) == ("甲公司", role, label_text), label_text


PIECES = [*"甲乙公司（）()：:；;，,、/ 　\n", "委托方", "受委托方", "生产商", "进口商", "原产国", "经销商"]
CELL_TEXT = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@settings(max_examples=200, deadline=None)
@given(cell=st.one_of(st.text(max_size=40), CELL_TEXT), address=st.one_of(st.none(), st.text(max_size=20), CELL_TEXT))
def test_no_cell_makes_it_fail_and_every_party_has_a_clean_name(cell: str, address: str | None) -> None:
    parties = split_parties(cell, address)
    for party in parties:
        assert party.name and party.name == party.name.strip(" \t\r\n；;，,、。/　")
        assert party.role is None or party.role in ROLE_NAMES
        assert (party.role is None) == (party.label is None)
    if not has_roles(cell):
        assert len(parties) <= 1
