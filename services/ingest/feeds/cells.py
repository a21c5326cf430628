"""Cell quirks of the published tables: placeholders, dates in mixed formats, combined failed items."""

from __future__ import annotations

import re
from datetime import date, datetime

from shared.contracts.ingest import FailedItem

PLACEHOLDERS = {"", "/", "／", "-", "—", "--", "——", "无", "空", "null", "none", "n/a", "NA"}
_ANNOTATION = re.compile(r"[（(][^（()）]*[）)]")
_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"), True),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), True),
    (re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$"), False),
]
_ITEM_SPLIT = re.compile(r"[、；\n]+")
_PLAIN_ITEM_SPLIT = re.compile(r"[、；;\n，,]+")
_PART_SPLIT = re.compile(r"[║|丨‖]")


# Full-width ASCII and the ideographic space fold to plain forms; NFKC would also flatten
# superscripts (1.2×10⁵ would become 1.2×105), which changes test results.
_FULL_WIDTH: dict[int, str | int] = {0x3000: " ", **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}


class BadCell(ValueError):
    """A cell whose value is impossible (e.g. 2024-02-30)."""


def text(value: object) -> str | None:
    """The cell as clean text, or None for a placeholder."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    cleaned = str(value).translate(_FULL_WIDTH).strip()
    return None if cleaned in PLACEHOLDERS or cleaned.lower() in PLACEHOLDERS else cleaned


def parse_date(value: object) -> date | None:
    """A date from the formats the bulletins use; annotations like (购进日期) are dropped.

    Returns None when the cell is not a date at all (a batch number, say); raises BadCell when it
    has the shape of a date but cannot be one.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    cleaned = text(value)
    if cleaned is None:
        return None
    cleaned = _ANNOTATION.sub("", cleaned).strip()
    for pattern, has_day in _DATE_PATTERNS:
        match = pattern.match(cleaned)
        if match:
            year, month = int(match[1]), int(match[2])
            day = int(match[3]) if has_day else 1
            try:
                return date(year, month, day)
            except ValueError:
                raise BadCell(f"impossible date {cleaned!r}") from None
    return None


def failed_items(value: object, result: object = None, standard: object = None) -> list[FailedItem]:
    """Failed test items from one cell (`项目║结果║标准值`, several per cell) or three columns."""
    cell = text(value)
    if cell is None:
        return []
    if not _PART_SPLIT.search(cell):
        names = [n.strip() for n in _PLAIN_ITEM_SPLIT.split(cell) if n.strip()]
        if len(names) == 1:
            return [FailedItem(item=names[0], result=text(result), standard=text(standard))]
        return [FailedItem(item=n) for n in names]
    items = []
    for chunk in _ITEM_SPLIT.split(cell):
        parts = [p.strip() for p in _PART_SPLIT.split(chunk)]
        if parts and parts[0]:
            items.append(
                FailedItem(
                    item=parts[0],
                    result=parts[1] or None if len(parts) > 1 else None,
                    standard="║".join(parts[2:]) or None if len(parts) > 2 else None,
                )
            )
    return items
