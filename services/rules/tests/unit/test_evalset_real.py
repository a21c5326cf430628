"""The real-name evaluation set (bench/evalsets/real.py, issue 11 item 5) is built as documented: the split
is deterministic, the parts are disjoint, every variant class is there, and the labels are sane."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.evalsets import real  # noqa: E402
from shared.identifiers import is_valid_code  # noqa: E402


@pytest.fixture(scope="module")
def built() -> real.RealSet:
    return real.build()


def test_the_data_are_real_names_not_generator_output() -> None:
    orgs = real.load()
    assert len(orgs) > 900
    names = [o.name for o in orgs]
    assert len(set(names)) == len(names)
    assert all(len(n) >= 5 and not n.isascii() for n in names)
    forms = Counter(next((f for f in real.FORMS if n.endswith(f)), "other") for n in names)
    assert forms["有限公司"] > 0.7 * len(names)  # real lists: mostly 有限公司, a few 股份, 厂, 商行
    trades = Counter(o.parts.trade for o in orgs)
    assert trades.most_common(1)[0][1] <= 6  # no repeated synthetic pattern


def test_split_is_deterministic_and_about_a_fifth(built: real.RealSet) -> None:
    again = real.build()
    assert [(q.name, q.variant, q.expected, q.split) for q in built.queries] == [
        (q.name, q.variant, q.expected, q.split) for q in again.queries
    ]
    assert real.split_of("浙江正泰电器股份有限公司") == real.split_of("浙江正泰电器股份有限公司")
    orgs = real.load()
    tuning = sum(o.split == "tuning" for o in orgs) / len(orgs)
    assert 0.15 < tuning < 0.25


def test_parts_are_disjoint_by_organisation(built: real.RealSet) -> None:
    tuning, heldout = built.part("tuning"), built.part("heldout")
    assert tuning and heldout and len(tuning) + len(heldout) == len(built.queries)
    by_org: dict[str, set[str]] = {}  # an organisation's queries (a left-out real name is its own) in one part
    for q in built.queries:
        own = q.name if q.variant in ("same_trade_name_real", "other_real_name") else q.expected or q.source_name
        by_org.setdefault(own, set()).add(q.split)
    assert all(len(splits) == 1 for splits in by_org.values())
    registered = {o.org_id: o for o in built.registered}
    assert all(q.split == registered[q.expected].split for q in built.queries if q.expected)


def test_every_class_is_present_in_both_parts(built: real.RealSet) -> None:
    for part in ("tuning", "heldout"):
        present = {q.variant for q in built.part(part)}
        assert present == set(real.CLASSES), set(real.CLASSES) - present


def test_labels_are_sane(built: real.RealSet) -> None:
    registered = {o.org_id: o for o in built.registered}
    registered_names = {o.name for o in built.registered}
    left_out = {o.name for o in built.unregistered}
    assert not registered_names & left_out
    for q in built.queries:
        if q.kind in ("auto", "review"):
            org = registered[q.expected]
            assert q.source_name == org.name
            if q.variant not in ("exact", "credit_code_as_name", "credit_code_typo_as_name"):
                assert q.name != org.name, q
            if q.kind == "review":
                assert q.name not in registered_names | left_out, q  # never another real company's name
        else:
            assert q.expected == "" and q.name not in registered_names, q
    codes = {o.code for o in built.registered}
    for q in built.queries:
        if q.variant == "credit_code_as_name":
            assert q.name == registered[q.expected].code and is_valid_code(q.name)
        if q.variant == "credit_code_typo_as_name":
            code = registered[q.expected].code
            assert q.name not in codes and sum(a != b for a, b in zip(q.name, code, strict=True)) == 1
    for q in built.queries:
        if q.variant == "same_trade_name_real":
            assert q.name in left_out and q.source_name in registered_names
            assert q.name[:2] != "" and q.source_name != q.name
        if q.variant == "other_real_name":
            assert q.name in left_out


def test_variant_rules_on_known_names() -> None:
    p = real.parse("乐清市九洲电子有限公司")
    assert (p.region, p.short, p.body, p.form) == ("乐清市", "乐清", "九洲电子", "有限公司")
    p = real.parse("晶通半导体（深圳）有限公司")
    assert (p.bracketed, p.body, p.form) == ("深圳", "晶通半导体", "有限公司")
    p = real.parse("浙江康信电器集团有限公司")
    assert (p.short, p.body, p.group) == ("浙江", "康信电器", True)
