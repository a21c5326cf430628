"""Regions as English names write them (Ningbo, Zhejiang, Hong Kong): pinyin of the region tables
(pypinyin), with the official spellings that pinyin does not give (Shaanxi, Inner Mongolia, Harbin)."""

from __future__ import annotations

from functools import lru_cache

from services.rules.matcher.regions import CITIES, MUNICIPALITIES, PROVINCES

# Several entries a line (hence fmt: skip): a table read at a glance, not one entry a line.
ALIASES = {
    "陕西": ("SHAANXI",), "内蒙古": ("INNERMONGOLIA", "NEIMONGOL"), "西藏": ("TIBET",), "香港": ("HONGKONG",),
    "澳门": ("MACAU", "MACAO"), "呼和浩特": ("HOHHOT",), "哈尔滨": ("HARBIN",), "乌鲁木齐": ("URUMQI",),
    "拉萨": ("LHASA",),
}  # fmt: skip
ALIASES_ONLY = {"陕西"}  # its pinyin, SHANXI, is 山西's name in English


@lru_cache(maxsize=1)
def places() -> dict[str, tuple[str | None, str | None]]:
    """Spelling without spaces → (province, city). A spelling two places share keeps only what they
    agree on: TAIZHOU is 泰州 (Jiangsu) or 台州 (Zhejiang), so it names neither. Made on first use (pypinyin
    takes a seventh of a second to import, and only English names need it)."""
    from pypinyin import lazy_pinyin

    options: dict[str, set[tuple[str, str | None]]] = {}

    def add(name: str, place: tuple[str, str | None]) -> None:
        spellings = set(ALIASES.get(name, ()))
        if name not in ALIASES_ONLY:
            spellings.add("".join(lazy_pinyin(name)).upper())
        for spelling in spellings:
            options.setdefault(spelling, set()).add(place)

    for province in PROVINCES:
        add(province, (province, province if province in MUNICIPALITIES else None))
    for city, province in CITIES.items():
        add(city, (province, city))
    found: dict[str, tuple[str | None, str | None]] = {}
    for spelling, places_named in options.items():
        provinces = {p for p, _ in places_named}
        cities = {c for _, c in places_named}
        agreed: str | None = provinces.pop() if len(provinces) == 1 else None
        found[spelling] = (agreed, cities.pop() if len(cities) == 1 and agreed else None)
    return found


@lru_cache(maxsize=65536)
def sound(character: str) -> str:
    """A character's toneless readings joined (重 → chong|zhong): two characters sharing one are homophones."""
    from pypinyin import Style, pinyin

    return "|".join(sorted(set(pinyin(character, style=Style.NORMAL, heteronym=True)[0])))


def homophone(asked: str, registered: str) -> tuple[str, str, str] | None:
    """(printed, registered, reading) when the two differ in exactly one character and the two sound alike
    (创奇 / 床奇: chuang); else None. A homophone may sit in the 字号, so it is a lead, never a match."""
    if len(asked) != len(registered) or asked == registered:
        return None
    differ = [(a, b) for a, b in zip(asked, registered, strict=True) if a != b]
    if len(differ) != 1:
        return None
    printed, meant = differ[0]
    shared = set(sound(printed).split("|")) & set(sound(meant).split("|"))
    return (printed, meant, sorted(shared)[0]) if shared and "\u4e00" <= printed <= "\u9fff" else None
