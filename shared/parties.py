"""Several parties in one cell: `委托方：X；受委托方：Y`, `生产商：X；经销商：Y`, `进口商：X（原产国：意大利）`.

SAMR and provincial bulletins print two companies, each with its role, in the one 标称生产企业名称 cell,
and often the address cell in the same shape. `split_parties` takes such a cell apart into the
parties, each with its role (a stable code and the label as printed) and, where the address cell
can be paired with it, its own address. A cell that names no role is one party with no role.

Both ingest (a bulletin's producer cell) and the rules service (a name typed into the screening
input) use this one function, so a cell is read the same way wherever it arrives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The labels as printed → a stable role code. Longer labels first, so 受委托方 is not read as 委托方.
ROLE_LABELS: dict[str, str] = {
    **dict.fromkeys(
        [
            "受委托生产企业",
            "受委托企业",
            "受委托单位",
            "受委托方",
            "受委托人",
            "被委托方",
            "受托生产企业",
            "受托企业",
            "受托单位",
            "受托方",
            "受托人",
        ],
        "entrusted",
    ),
    **dict.fromkeys(["委托生产企业", "委托企业", "委托单位", "委托方", "委托人", "委托商"], "entrusting"),
    **dict.fromkeys(
        [
            "生产企业",
            "生产单位",
            "生产商",
            "生产者",
            "生产厂",
            "生产厂家",
            "制造商",
            "制造者",
            "制造厂",
            "加工商",
            "加工方",
            "加工单位",
        ],
        "manufacturer",
    ),
    **dict.fromkeys(["监制商", "监制方", "监制单位", "出品商", "出品方", "出品单位", "品牌商", "品牌方"], "supervisor"),
    **dict.fromkeys(
        ["总经销商", "总经销", "经销商", "经销单位", "经销者", "销售商", "销售单位", "代理商", "分销商"], "distributor"
    ),
    **dict.fromkeys(["进口商", "进口代理商", "进口单位", "进口企业", "进口者"], "importer"),
    **dict.fromkeys(["分装商", "分装单位", "分装企业", "灌装商"], "packer"),
    **dict.fromkeys(["运营商", "运营方"], "operator"),
}
ROLE_NAMES = {
    "entrusted": ("受委托方", "contract manufacturer"),
    "entrusting": ("委托方", "commissioning party"),
    "manufacturer": ("生产商", "manufacturer"),
    "supervisor": ("监制商", "supervising brand owner"),
    "distributor": ("经销商", "distributor"),
    "importer": ("进口商", "importer"),
    "packer": ("分装商", "packer"),
    "operator": ("运营商", "operator"),
}

_LABELS = "|".join(sorted(map(re.escape, ROLE_LABELS), key=len, reverse=True))
# A label that opens a party: at the start or after a separator, optionally followed by 名称/地址, then a colon.
_PREFIXED = re.compile(rf"(?:^|(?<=[；;，,。\s、/]))({_LABELS})(?:名称|地址|的名称|的地址)?\s*[:：]")
# A label written after the name, in brackets: `X（委托方）；Y（受委托方）`.
_SUFFIXED = re.compile(rf"[（(]\s*({_LABELS})\s*[）)]")
_SEPARATORS = " \t\r\n；;，,、。/"
# Remarks inside a party's text that are not part of its name: `（原产国：意大利）`, `（中国）` is a name part.
_REMARK = re.compile(r"[（(]\s*(原产国|原产地|产地|国别|国家|地区)\s*[:：]?\s*([^（()）]*)[）)]")


@dataclass(frozen=True, slots=True)
class CellParty:
    """One party read out of a cell."""

    name: str
    role: str | None = None  # a ROLE_NAMES key, or None when the cell names no role
    label: str | None = None  # the role as printed: 委托方, 受托方, 生产商, …
    address: str | None = None
    origin: str | None = None  # 原产国 of an importer's goods, when printed

    @property
    def role_text(self) -> str:
        """The role in words, for an explanation: `受委托方 (contract manufacturer)`."""
        return role_text(self.role, self.label)


def role_text(role: str | None, label: str | None = None) -> str:
    """A party's role in words, for explanations and titles: `受委托方 (contract manufacturer)`; "" for none."""
    if role not in ROLE_NAMES:
        return label or ""
    zh, en = ROLE_NAMES[role]
    return f"{label or zh} ({en})"


def has_roles(cell: str | None) -> bool:
    """Does this cell name a party by its role (and so need taking apart)?"""
    return bool(cell) and bool(_PREFIXED.search(cell) or _SUFFIXED.search(cell))  # type: ignore[arg-type]


def split_parties(name_cell: str, address_cell: str | None = None) -> list[CellParty]:
    """The parties a cell names, in the order printed; one party with no role when it names none.

    Addresses are paired by role when the address cell carries the same labels, else by position
    when it has as many parts as there are parties, else (one address for several parties) given to
    none: a shared address is kept on the signal, not guessed onto a party.
    """
    named = _segments(name_cell)
    if not named:
        cleaned = _clean(name_cell)
        return [CellParty(cleaned, address=_clean(address_cell) or None)] if cleaned else []
    addresses = _addresses(address_cell, named)
    parties = []
    for (label, text), address in zip(named, addresses, strict=True):
        name, origin = _strip_remarks(text)
        if name:
            parties.append(CellParty(name, ROLE_LABELS[label], label, address, origin))
    return parties


def _segments(cell: str | None) -> list[tuple[str, str]]:
    """(label, text) for each party of a cell that names roles; [] when it names none."""
    if not cell:
        return []
    marks = list(_PREFIXED.finditer(cell))
    if marks:
        out = []
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(cell)
            out.append((mark[1], _clean(cell[mark.end() : end])))
        lead = _clean(cell[: marks[0].start()])
        if lead:  # a name printed before the first label is a party of its own, with no role
            return []
        return out
    suffixed = list(_SUFFIXED.finditer(cell))
    if not suffixed:
        return []
    out, start = [], 0
    for mark in suffixed:
        out.append((mark[1], _clean(cell[start : mark.start()])))
        start = mark.end()
    return out if not _clean(cell[start:]) else []


def _addresses(cell: str | None, named: list[tuple[str, str]]) -> list[str | None]:
    if not cell or not _clean(cell):
        return [None] * len(named)
    labelled = _segments(cell)
    if labelled:
        by_role: dict[str, str] = {}
        for label, text in labelled:
            by_role.setdefault(ROLE_LABELS[label], text)
        return [by_role.get(ROLE_LABELS[label]) for label, _ in named]
    parts = [p for p in (_clean(p) for p in re.split(r"[；;\n]+", cell)) if p]
    if len(parts) == len(named):
        return list(parts)
    return [_clean(cell)] if len(named) == 1 else [None] * len(named)


def _strip_remarks(text: str) -> tuple[str, str | None]:
    origin = None
    if match := _REMARK.search(text):
        origin = match[2].strip() or None
        text = _REMARK.sub("", text)
    return _clean(text), origin


def _clean(text: str | None) -> str:
    return (text or "").strip(_SEPARATORS + "　")
