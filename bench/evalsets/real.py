"""A labelled evaluation set built from real registered company names (issue 11 item 5).

The names come from public lists (bench/data/*.csv; sources in bench/data/README.md). The variants and
look-alikes are made here, by rules written without looking at the matcher's generator
(`certwatch.demo.evalset`) and with their own region table, so the two cannot have been tuned
to each other:

* classes that cannot be another company (`auto`: must be an automatic match): exact, brackets
  full ↔ half width, region moved into or out of brackets (after the industry, or before 集团), a
  misspelt legal form (有限司 / 有限公 / 有现公司), traditional characters (opencc), the credit code
  pasted into the name field;
* classes that may be another company (`review`: review or match, never none): a character dropped
  inside the name, a one-character homophone (pypinyin), 股份有限公司 ↔ 有限公司, the credit code in the
  name field with one character wrong (the issue: a near code is accepted only when a name agrees);
* hard negatives (`hard`): real names from the data sharing a 字号 with a registered organisation but
  left out of the registry; the registered name with its city replaced by its province or the other way
  round (四川X ≠ 成都市X); the same name in a city of another province;
* easy negatives (`easy`): real names left out of the registry altogether.

Every organisation falls, by a hash of its name, into the tuning part (20 %) or the held-out part
(80 %). Thresholds may be chosen on the tuning part (or the generated set) only; the held-out part is
for measuring.

The credit codes are not real (the public lists carry none): each organisation gets a valid code with
its region's GB/T 2260 digits and a body drawn from a hash of its name.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from services.rules.matcher.index import RegistryRecord
from shared.identifiers import make_uscc

DATA = Path(__file__).resolve().parent.parent / "data"
SOURCES = {  # file -> (source tag, region of an organisation whose name carries none)
    "yueqing_exporters.csv": ("yueqing", "乐清"),
    "shenzhen_innovative_smes.csv": ("shenzhen", "深圳"),
}
TUNING_SHARE = 5  # one organisation in five is in the tuning part

# This set's own region table (deliberately not services.rules.matcher.regions): written form -> short
# name, kind, province, GB/T 2260 code.
REGIONS = {
    "浙江": ("province", "浙江", "330000"),
    "广东": ("province", "广东", "440000"),
    "温州": ("city", "浙江", "330300"),
    "乐清": ("city", "浙江", "330382"),
    "深圳": ("city", "广东", "440300"),
}
SUFFIX = {"province": "省", "city": "市"}
CITIES_OF = {
    "浙江": ("杭州市", "宁波市", "温州市", "嘉兴市", "台州市"),
    "广东": ("广州市", "深圳市", "佛山市", "东莞市"),
}
ELSEWHERE = ("成都市", "武汉市", "西安市", "沈阳市", "南宁市", "长沙市", "合肥市", "济南市")
FORMS = ("股份有限公司", "有限责任公司", "有限公司")  # longest first
FORM_TYPOS = ("有限司", "有限公", "有现公司")
CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"

AUTO = ("exact", "brackets_width", "region_moved", "legal_form_misspelt", "traditional", "credit_code_as_name")
REVIEW = ("dropped_character", "homophone", "form_swap", "credit_code_typo_as_name")
HARD = ("same_trade_name_real", "province_vs_city", "same_trade_name_other_place")
EASY = ("other_real_name",)
CLASSES = AUTO + REVIEW + HARD + EASY
KIND = {**dict.fromkeys(AUTO, "auto"), **dict.fromkeys(REVIEW, "review"), **dict.fromkeys(HARD, "hard"),
        **dict.fromkeys(EASY, "easy")}  # fmt: skip


def _hash(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


def split_of(name: str) -> str:
    """'tuning' (20 %) or 'heldout' (80 %), by a hash of the organisation's name: deterministic, and the
    same whichever other names are in the data."""
    return "tuning" if _hash("split", name) % TUNING_SHARE == 0 else "heldout"


@dataclass(frozen=True)
class Parts:
    region: str  # as written at the start ('乐清市', '浙江'), or ''
    short: str  # its short name ('乐清'), or '' (also for a region in brackets)
    bracketed: str  # a region in brackets before the legal form ('深圳' of 晶通半导体（深圳）有限公司), or ''
    body: str  # 字号 + industry
    group: bool  # 集团 before the legal form
    form: str  # legal form, or '' (厂, 商行)

    @property
    def trade(self) -> str:
        return self.body[:2]

    @property
    def place(self) -> str:
        return self.short or self.bracketed


_BRACKET_END = re.compile(r"[（(]([^（）()]+)[）)]$")


def parse(name: str) -> Parts:
    form = next((f for f in FORMS if name.endswith(f)), "")
    rest = name[: len(name) - len(form)]
    group = bool(form) and rest.endswith("集团") and len(rest) > 4
    if group:
        rest = rest[:-2]
    bracketed = ""
    found = _BRACKET_END.search(rest)
    if found and found.group(1).rstrip("省市") in REGIONS:
        bracketed, rest = found.group(1).rstrip("省市"), rest[: found.start()]
    region = short = ""
    for word in REGIONS:
        for written in (word + SUFFIX[REGIONS[word][0]], word):
            if rest.startswith(written) and len(rest) > len(written) + 1:
                region, short, rest = written, word, rest[len(written) :]
                break
        if region:
            break
    return Parts(region, short, bracketed, rest, group, form)


@dataclass(frozen=True)
class RealOrg:
    org_id: str
    name: str
    code: str
    address: str
    source: str
    parts: Parts

    @property
    def split(self) -> str:
        return split_of(self.name)

    def record(self) -> RegistryRecord:
        return RegistryRecord(self.org_id, self.name, self.code, (), self.address or None)


@dataclass(frozen=True)
class Query:
    record_id: str
    name: str
    credit_code: str
    expected: str  # org_id, or '' for none
    variant: str
    source_name: str  # the registered name it was made from (for negatives: the look-alike, or itself)
    split: str

    @property
    def kind(self) -> str:
        return KIND[self.variant]

    @property
    def negative(self) -> bool:
        return not self.expected

    @property
    def auto_expected(self) -> bool:
        return self.kind == "auto"


def load(data: Path = DATA) -> list[RealOrg]:
    orgs: list[RealOrg] = []
    seen: set[str] = set()
    for file, (source, home) in SOURCES.items():
        with (data / file).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                name = row["name"].strip()
                if not name or name in seen:
                    continue
                seen.add(name)
                parts = parse(name)
                region = REGIONS[parts.place or home][2]
                body = "".join(CODE_CHARS[_hash("code", name, str(i)) % len(CODE_CHARS)] for i in range(8))
                code = make_uscc(region, body)
                orgs.append(RealOrg(f"REAL{_hash('id', name):012x}"[:16], name, code,
                                    (row.get("address") or "").strip(), source, parts))  # fmt: skip
    return orgs


@dataclass(frozen=True)
class RealSet:
    registered: list[RealOrg]  # in the registry
    unregistered: list[RealOrg]  # real, left out: look-alikes and easy negatives
    queries: list[Query]

    def records(self) -> list[RegistryRecord]:
        return [o.record() for o in self.registered]

    def part(self, split: str) -> list[Query]:
        return [q for q in self.queries if q.split == split]


def _partition(orgs: list[RealOrg]) -> tuple[list[RealOrg], list[RealOrg], list[RealOrg]]:
    """(registered, same-字号 siblings left out, others left out). In each group of names sharing a 字号
    (first two characters after the region), the one with the lowest hash is registered and the others
    are left out as hard negatives; one in ten of the names with no such sibling is left out as an easy
    negative."""
    by_trade: dict[str, list[RealOrg]] = defaultdict(list)
    for org in orgs:
        by_trade[org.parts.trade].append(org)
    registered, siblings, others = [], [], []
    for group in by_trade.values():
        group.sort(key=lambda o: _hash("keep", o.name))
        if len(group) > 1:  # the kept one is always registered: its siblings are look-alikes of it
            siblings.extend(group[1:])
            registered.append(group[0])
            continue
        org = group[0]
        (others if _hash("easy", org.name) % 10 == 0 else registered).append(org)
    return registered, siblings, others


@lru_cache(maxsize=1)
def _converter() -> object:
    from opencc_purepy import OpenCC  # installed with the matcher (pyproject)

    return OpenCC("s2t")


def _homophones(names: Iterable[str]) -> dict[str, list[str]]:
    """Each CJK character of the names -> other characters of the names read the same (tones aside)."""
    from pypinyin import Style, lazy_pinyin

    by_sound: dict[str, set[str]] = defaultdict(set)
    for name in names:
        for ch in name:
            if "\u4e00" <= ch <= "\u9fff":
                by_sound[lazy_pinyin(ch, style=Style.NORMAL)[0]].add(ch)
    return {ch: sorted(group - {ch}) for group in by_sound.values() for ch in group if len(group) > 1}


def _rebuild(p: Parts, body: str | None = None, form: str | None = None) -> str:
    body = p.body if body is None else body
    form = p.form if form is None else form
    bracket = f"（{p.bracketed}）" if p.bracketed else ""
    return f"{p.region}{body}{bracket}{'集团' if p.group else ''}{form}"


def _swap_width(name: str) -> str:
    if "（" in name or "）" in name:
        return name.replace("（", "(").replace("）", ")")
    return name.replace("(", "（").replace(")", "）")


def _region_moved(org: RealOrg) -> str | None:
    p = org.parts
    if not p.form:
        return None
    h = _hash("move", org.name)
    left, right = ("（", "）") if h % 3 else ("(", ")")
    if p.short:  # into brackets: after the industry, or before 集团
        return f"{p.body}{left}{p.short}{right}{'集团' if p.group else ''}{p.form}"
    if p.bracketed:  # out of brackets, to the front (with its suffix or without)
        written = p.bracketed + (SUFFIX[REGIONS[p.bracketed][0]] if h % 2 else "")
        return f"{written}{p.body}{'集团' if p.group else ''}{p.form}"
    return None


def _code_typo(code: str, salt: str) -> str:
    h = _hash("typo", salt)
    at = 2 + h % 15  # a character of the region or the body, not the check character
    options = [c for c in CODE_CHARS if c != code[at] and (c.isdigit() or at >= 8)]
    return code[:at] + options[(h // 17) % len(options)] + code[at + 1 :]


def build(orgs: list[RealOrg] | None = None) -> RealSet:
    """The labelled set: registered organisations, the ones left out, and the queries (both parts)."""
    orgs = load() if orgs is None else orgs
    registered, siblings, others = _partition(orgs)
    all_names = {o.name for o in orgs}
    homophones = _homophones(all_names)
    convert = _converter()
    queries: list[Query] = []

    def add(name: str, code: str, expected: str, variant: str, source: RealOrg, shown: str | None = None) -> None:
        """A query about `source` (its part decides the query's part); `shown`: the registered name to show
        beside it (for a look-alike left out of the registry, the registered organisation it resembles)."""
        if not name or (name == source.name and KIND[variant] in ("auto", "review") and variant != "exact"):
            return
        if expected == "" and name in registered_names:  # a 'negative' that is itself registered
            return
        queries.append(Query(f"R{len(queries):06d}", name, code, expected, variant, shown or source.name,
                             source.split))  # fmt: skip

    registered_names = {o.name for o in registered}
    for org in registered:
        p, h = org.parts, _hash("variant", org.name)
        add(org.name, "", org.org_id, "exact", org)
        if any(c in org.name for c in "（）()"):
            add(_swap_width(org.name), "", org.org_id, "brackets_width", org)
        moved = _region_moved(org)
        if moved:
            add(moved, "", org.org_id, "region_moved", org)
        if org.name.endswith("有限公司") and not org.name.endswith("有限责任公司"):
            add(org.name[:-4] + FORM_TYPOS[h % len(FORM_TYPOS)], "", org.org_id, "legal_form_misspelt", org)
        traditional = convert.convert(org.name)  # type: ignore[attr-defined]
        if traditional != org.name:
            add(traditional, "", org.org_id, "traditional", org)
        add(org.code, "", org.org_id, "credit_code_as_name", org)
        add(_code_typo(org.code, org.name), "", org.org_id, "credit_code_typo_as_name", org)
        if len(p.body) >= 4:  # a character dropped inside the name (never its first)
            at = 1 + h % (len(p.body) - 1)
            dropped = _rebuild(p, body=p.body[:at] + p.body[at + 1 :])
            if dropped not in all_names:
                add(dropped, "", org.org_id, "dropped_character", org)
        candidates = [i for i, ch in enumerate(p.body) if ch in homophones]
        if candidates:
            at = candidates[h % len(candidates)]
            options = homophones[p.body[at]]
            sound = _rebuild(p, body=p.body[:at] + options[(h // 7) % len(options)] + p.body[at + 1 :])
            if sound not in all_names:
                add(sound, "", org.org_id, "homophone", org)
        if p.form in ("有限公司", "股份有限公司"):
            swapped = _rebuild(p, form="股份有限公司" if p.form == "有限公司" else "有限公司")
            if swapped not in all_names:
                add(swapped, "", org.org_id, "form_swap", org)
        # hard negatives made from this registered name
        if p.short:
            kind, province, _ = REGIONS[p.short]
            if kind == "city":
                other = province + ("省" if h % 2 else "")
            else:
                other = CITIES_OF[province][h % len(CITIES_OF[province])]
            add(_rebuild(Parts(other, other, "", p.body, p.group, p.form)), "", "", "province_vs_city", org)
            elsewhere = ELSEWHERE[(h // 5) % len(ELSEWHERE)]
            add(_rebuild(Parts(elsewhere, elsewhere, "", p.body, p.group, p.form)), "", "",
                "same_trade_name_other_place", org)  # fmt: skip
    by_trade = {o.parts.trade: o for o in registered}
    for org in siblings:  # a real company sharing a registered organisation's 字号
        add(org.name, "", "", "same_trade_name_real", org, shown=by_trade[org.parts.trade].name)
    for org in others:
        add(org.name, "", "", "other_real_name", org)
    return RealSet(registered, siblings + others, queries)
