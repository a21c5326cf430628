"""Cell quirks of the published tables: placeholders, dates in mixed formats, combined failed items."""

from __future__ import annotations

import re
from datetime import date, datetime

from shared.contracts.ingest import FailedItem

PLACEHOLDERS = {"", "/", "／", "-", "—", "--", "——", "无", "空", "null", "none", "n/a", "NA", "\\"}
_ANNOTATION = re.compile(r"[（(][^（()）]*[）)]")
_DATE_PATTERNS = [
    (re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$"), True),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), True),
    (re.compile(r"^(\d{4})[-/.年](\d{1,2})月?$"), False),
]
# A date inside other words (`购进 2020-11-23`, `购进日期：2025/4/12`, `2021-03-05 批号：A1`): separators required,
# so a batch number of digits is never read as one.
_DATE_INSIDE = re.compile(r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)日?")
_PURCHASE = re.compile(r"购进|购买|进货")
_DATE_WORDS = re.compile(r"[（(]?(?:购进|购买|进货|生产|加工|检验|抽样)(?:日期)?[）)]?\s*[:：]?")
_PART_SPLIT = re.compile(r"[║|丨‖]")
_PART_SPACES = re.compile(r"\s*[║|丨‖]\s*")
# Labels a cell sometimes repeats inside itself: `不合格项目：X 检验结果：Y 标准值：Z`.
_ITEM_LABEL = re.compile(r"(?:不合格项目|检验项目|项目名称)\s*[:：]?\s*")
_RESULT_LABEL = re.compile(
    r"\s*(?:检验结+果|检测结+果|检验值|实测值|结果)\s*[:：]\s*|\s+(?:检验结+果|检测结+果|检验值|实测值)\s*"
)
# A label at the start of a `║` part (the cell repeats the header in each part; typos as printed).
_PART_LABEL = re.compile(
    r"(?:(?<=[║|丨‖])|^)\s*(?:不合格项目|检验项目|检验结+果|检测结+果|检验值|实测值|标准值|标准要求|标准规定值?)\s*[:：]?\s*"
)
# What a plain item name carries after it: `大肠菌群项目不符合规定`, `X项目不合格`.
_VERDICT_SUFFIX = re.compile(r"(?:项目)?(?:不合格|不符合(?:规定|要求|标准)?)$")
_STANDARD_LABEL = re.compile(
    r"\s*(?:标准值|标准要求|标准规定值?|标准指标|要求|限量值?)\s*[:：]\s*|\s+(?:标准值|标准要求|标准规定值?|标准指标)\s*"
)
_OPEN, _CLOSE = "(（[【〔{《", ")）]】〕}》"
_ITEM_SEPARATORS = "\n；;"  # between items; 、 and ， only where the text after them is no standard
_LIST_SEPARATORS = "、，,"
# What starts a standard number or a standard's wording: a 、 before it continues a list of standards.
_STANDARD_START = re.compile(
    r"^\s*(?:GB|QB|SB|NY|SN|DB|LS|JJF|JJG|T/|Q/|HG|FZ|GH|YY|WS|卫生部|国家卫|公告|《|≤|≥|<|>|＜|＞|\d)"
)
_LIST_NUMBER = re.compile(r"^\s*(?:\d{1,2}\s*[.、．)）](?!\d)|[①-⑳])\s*")
_LINE_BREAK = re.compile(r"\s*[\r\n]+\s*")


# Full-width ASCII and the ideographic space fold to plain forms; NFKC would also flatten
# superscripts (1.2×10⁵ would become 1.2×105), which changes test results.
_FULL_WIDTH: dict[int, str | int] = {0x3000: " ", **{c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}}


class BadCell(ValueError):
    """A cell whose value is impossible (e.g. 2024-02-30)."""


def text(value: object) -> str | None:
    """The cell as clean text (line breaks inside it are layout), or None for a placeholder."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    cleaned = lines(value)
    return _LINE_BREAK.sub(_join_lines, cleaned) if cleaned and "\n" in cleaned else cleaned


def lines(value: object) -> str | None:
    """The cell as clean text with its line breaks kept (they can separate parties or items), or None
    for a placeholder."""
    if value is None:
        return None
    cleaned = str(value).translate(_FULL_WIDTH).replace("\r\n", "\n").replace("\r", "\n").strip()
    return None if cleaned in PLACEHOLDERS or cleaned.lower() in PLACEHOLDERS else cleaned


def _join_lines(match: re.Match[str]) -> str:
    """A line break inside a cell (`土豆粉丝\\n(湿粉条)`) is layout: nothing between CJK, a space between words."""
    text, at, end = match.string, match.start(), match.end()
    before, after = text[at - 1 : at], text[end : end + 1]
    return " " if before.isascii() and after.isascii() and before.isalnum() and after.isalnum() else ""


def parse_date(value: object) -> date | None:
    """A date from the formats the bulletins use; annotations like (购进日期) are dropped.

    Returns None when the cell is not a date at all (a batch number, say); raises BadCell when it
    has the shape of a date but cannot be one.
    """
    return split_date(value)[0]


def split_date(value: object) -> tuple[date | None, bool, str | None]:
    """(date, is a purchase date, what else the cell says): `2020年8月21日/H022` → (2020-08-21, False, `H022`).

    What else the cell says is a batch number, when the cell gives one beside its date."""
    if isinstance(value, datetime):
        return value.date(), False, None
    if isinstance(value, date):
        return value, False, None
    cleaned = text(value)
    if cleaned is None:
        return None, False, None
    purchase = bool(_PURCHASE.search(cleaned))
    bare = _ANNOTATION.sub("", cleaned).strip()
    for pattern, has_day in _DATE_PATTERNS:
        if match := pattern.match(bare):
            return _date(bare, int(match[1]), int(match[2]), int(match[3]) if has_day else 1), purchase, None
    if match := _DATE_INSIDE.search(cleaned):
        found = _date(match[0], int(match[1]), int(match[2]), int(match[3]))
        rest = _DATE_WORDS.sub("", cleaned[: match.start()] + " " + cleaned[match.end() :]).strip(" /／,，;；:：")
        return found, purchase, rest or None
    return None, False, None


def days_in(value: object) -> list[date]:
    """Every full date a cell names (`2022年4月30日与2022年7月9日期间` → two): a cell naming one day gives that day,
    a range or a list gives several, and a reader takes no single day from it."""
    cleaned = text(value)
    if cleaned is None:
        return []
    return [_date(m[0], int(m[1]), int(m[2]), int(m[3])) for m in _DATE_INSIDE.finditer(cleaned)]


def _date(shown: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise BadCell(f"impossible date {shown!r}") from None


def failed_items(value: object, result: object = None, standard: object = None, width: int = 3) -> list[FailedItem]:
    """Failed test items from one cell (`项目║结果║标准值`, several per cell) or three columns.

    Items are split only at separators outside brackets (`X(干样品，以Y计)` is one item), never inside a
    standard's list (`应符合GB7718-2011、GB28050-2011标准要求`), and a line break before `║` is layout.
    A cell that repeats its own labels (`不合格项目 X 检验结果 Y 标准值 Z`) is read without them.
    `width` is how many parts the header names per item (3 for 项目║结果║标准值, 2 for 项目║结果).
    """
    cell = lines(value)
    if cell is None:
        return []
    cell = _unlabel(cell)
    if not _PART_SPLIT.search(cell):
        names = _plain_items(cell)
        if len(names) == 1:
            return [FailedItem(item=names[0], result=text(result), standard=text(standard))]
        results = _plain_items(lines(result) or "", names=False)
        standards = _plain_items(lines(standard) or "", names=False)
        return [
            FailedItem(
                item=name,
                result=results[i] if len(results) == len(names) else None,
                standard=standards[i] if len(standards) == len(names) else None,
            )
            for i, name in enumerate(names)
        ]
    parts = _PART_SPACES.sub("║", cell).split("║")
    return _combined(parts, _width(len(parts), width))


def _unlabel(cell: str) -> str:
    """A cell that repeats its own labels: `不合格项目 X 检验结果 Y 标准值 Z`, or the labels after each `║`."""
    if _PART_SPLIT.search(cell):
        return _PART_LABEL.sub("", cell)
    if not (_RESULT_LABEL.search(cell) or _STANDARD_LABEL.search(cell)) or not _ITEM_LABEL.search(cell):
        return cell
    cell = _ITEM_LABEL.sub("\n", cell).strip()
    cell = _STANDARD_LABEL.sub("║", _RESULT_LABEL.sub("║", cell))
    return re.sub(r"[\s；;，,、]*║\s*", "║", cell)


def _width(parts: int, hint: int) -> int:
    """Parts per item: the header's, unless the cell's count of parts cannot be made of it."""
    for width in (hint, 3, 2):
        if width >= 2 and (parts - 1) % (width - 1) == 0:
            return width
    return hint


def _combined(parts: list[str], width: int) -> list[FailedItem]:
    items, name, at = [], _item_name(parts[0]), 1
    while True:
        fields: list[str | None] = []
        for k in range(width - 1):
            if at >= len(parts):
                break
            part, at = parts[at], at + 1
            following = ""
            if k == width - 2 and at < len(parts):  # the last field of an item also holds the next item's name
                part, following = _split_tail(part)
            fields.append(part.strip() or None)
            if k == width - 2:
                next_name = _item_name(following)
        if name:
            items.append(
                FailedItem(
                    item=name,
                    result=fields[0] if fields else None,
                    standard="║".join(f or "" for f in fields[1:]) or None if len(fields) > 1 else None,
                )
            )
        if at >= len(parts):
            return items
        name = next_name


def _item_name(raw: str) -> str:
    """An item's name without a list number in front (`1.`, `2、`, `①`) or separators around it."""
    return _LIST_NUMBER.sub("", raw).strip(" \t\n；;，,、")


def _top_level(text: str, separators: str) -> list[int]:
    """Positions of `separators` outside brackets."""
    depth, found = 0, []
    for i, char in enumerate(text):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and char in separators:
            found.append(i)
    return found


def _split_tail(part: str) -> tuple[str, str]:
    """`≤0.01mg/kg、灭蝇胺` → (`≤0.01mg/kg`, `灭蝇胺`): the field, and the next item's name after it."""
    for separators in (_ITEM_SEPARATORS, _LIST_SEPARATORS):
        for at in reversed(_top_level(part, separators)):
            tail = part[at + 1 :].strip()
            if tail and not _STANDARD_START.match(_item_name(tail)):
                return part[:at], tail
    return "", part  # no separator: the part is the next name, this item's last field is empty


def _plain_items(cell: str, names: bool = True) -> list[str]:
    """Item names of a cell with no `║`: split at separators outside brackets; a standard continues its list."""
    cuts = _top_level(cell, _ITEM_SEPARATORS + _LIST_SEPARATORS)
    pieces: list[str] = []
    start = 0
    for at in [*cuts, len(cell)]:
        piece = cell[start:at].strip()
        start = at + 1
        if not piece:
            continue
        if names and pieces and _STANDARD_START.match(piece) and not piece[0].isdigit():
            pieces[-1] = f"{pieces[-1]}{cell[at - len(piece) - 1]}{piece}"
        else:
            pieces.append(_VERDICT_SUFFIX.sub("", _item_name(piece)) or piece if names else piece)
    return [p for p in pieces if p]
