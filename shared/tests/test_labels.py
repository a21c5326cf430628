"""Every value a person may read has a zh-CN and an English word (shared/labels.py), and never shows raw."""

from __future__ import annotations

from enum import StrEnum

import pytest

from shared.contracts.rules import Measure
from shared.labels import covered, label, labels


@pytest.mark.parametrize("kind", list(covered()), ids=lambda k: k.__name__)
def test_every_value_has_both_words(kind: type[StrEnum]) -> None:
    words = covered()[kind]
    missing = [m.value for m in kind if m.value not in words]
    assert not missing, f"{kind.__name__}: no words for {missing} (shared/labels.py)"
    for value, (zh, en) in words.items():
        assert value in {m.value for m in kind}, f"{kind.__name__}: '{value}' is no value of it"
        assert zh and en and zh != value and "_" not in zh and "_" not in en, (kind.__name__, value)
        assert any("\u4e00" <= c <= "\u9fff" for c in zh), (kind.__name__, value, zh)


def test_the_issue_s_examples() -> None:
    from shared.contracts.ingest import SignalKind

    assert label(SignalKind.FOOD_SPOT_CHECK_FAILURE) == "食品抽检不合格"
    assert label(Measure.SUSPEND) == "暂停"
    assert label("withdraw", "zh-CN", Measure) == "撤销"
    assert label(Measure.SUSPEND, "en") == "suspend the certificate"
    assert labels(Measure, "en")["corrective_action"] == "corrective action"


def test_an_unknown_value_reads_as_words_not_an_identifier() -> None:
    assert label("something_new", "zh-CN", Measure) == "something new"
