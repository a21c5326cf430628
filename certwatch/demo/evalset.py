"""A labelled evaluation set for the matcher, generated deterministically from a seed.

A synthetic registry (region + 字号 + industry + legal form, valid PDY-range codes; one in 50 with a
Latin brand as 字号, one in 40 a foreign manufacturer registered under its English name) and queries:
positives in every variant of DOMAIN.md §5.2, hard negatives (same 字号 in another province or another
city, another industry word, a workshop or sole trader sharing the 字号, a 字号 one character off) and
placeholders. Each query says which organisation it names (or none) and which variant it is.

Variants that are leads for a reviewer by nature (a branch, a dropped character) are in the mix as
they are in bulletins: every branch, and a dropped character for one organisation in five.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.rules.matcher.index import RegistryRecord
from services.rules.matcher.regions import CITIES, PROVINCES
from shared.identifiers import make_uscc

TRADE_CHARS = (
    "宏远澄川凌岳瑞泽福锦禾丰源顺味金银华美盛泰安康达通利兴隆鑫恒昌永海天星辰光明德信和嘉佳宝博创立新东方"
    "润晨龙凤鸿鹏飞腾跃恩泓浩瀚峰岭松柏梅兰竹菊晶莹璐瑶琪瑞祥吉庆旺发富贵豪杰俊英豪雄伟毅刚强健壮威武"
    "蓝青绿红紫橙黄白黑金木水火土山川河湖江洋波涛云雾雨雪霜露冰雷电风虹霞彩晖曜旭昊昱晟晔灿烨炫焕"
)
INDUSTRIES = (
    "电器",
    "电子",
    "机械",
    "食品",
    "纺织",
    "服饰",
    "五金制品",
    "线缆",
    "化工",
    "塑料制品",
    "包装",
    "家具",
    "建材",
    "医疗器械",
    "照明",
    "汽车配件",
    "玩具",
    "陶瓷",
    "调味品",
    "水产食品",
    "电气",
    "科技",
    "制冷设备",
)
SWAP_INDUSTRY = {
    "电器": "电子",
    "电子": "电器",
    "机械": "机电",
    "食品": "饮品",
    "纺织": "服装",
    "服饰": "服装",
    "线缆": "电缆",
    "化工": "化学",
    "照明": "电器",
    "电气": "电器",
    "科技": "技术",
}
ENGLISH_INDUSTRY = {
    "电器": "Electric Appliance",
    "电子": "Electronics",
    "机械": "Machinery",
    "食品": "Foods",
    "纺织": "Textile",
    "服饰": "Apparel",
    "五金制品": "Hardware Products",
    "线缆": "Cable",
    "化工": "Chemical",
    "塑料制品": "Plastic Products",
    "包装": "Packaging",
    "家具": "Furniture",
    "建材": "Building Materials",
    "医疗器械": "Medical Devices",
    "照明": "Lighting",
    "汽车配件": "Auto Parts",
    "玩具": "Toys",
    "陶瓷": "Ceramics",
    "调味品": "Seasoning",
    "水产食品": "Aquatic Foods",
    "电气": "Electrical",
    "科技": "Technology",
    "制冷设备": "Refrigeration Equipment",
    "机电": "Electromechanical",
    "饮品": "Beverages",
    "服装": "Garments",
    "电缆": "Wire",
    "化学": "Chemistry",
    "技术": "Engineering",
    "贸易": "Trading",
}
SYLLABLES = (
    "sun",
    "tek",
    "vo",
    "lin",
    "mar",
    "ka",
    "ro",
    "zen",
    "del",
    "ta",
    "nor",
    "vi",
    "lux",
    "ber",
    "gen",
    "ox",
    "al",
    "bri",
    "cor",
    "dy",
    "el",
    "fin",
    "gra",
    "hel",
    "ix",
    "jo",
    "kel",
    "lo",
    "mo",
    "nex",
)
LATIN = "ABCDEFGHJKLMNPRSTWXYZ"
DISTRICTS = ("高新区", "开发区", "城关区", "长安区", "和平区", "城中区")
ENGLISH_FORMS = ("Co., Ltd.", "Co.,Ltd", "Company Limited", "CO LTD", "Limited")
PROVINCE_NAMES = [p for p in PROVINCES if p not in ("台湾", "香港", "澳门")]
CITY_NAMES = list(CITIES)
UNINCORPORATED = ("厂", "经营部", "商行", "（个体工商户）")
# A lookup table: simplified to traditional, pairs in rows (fmt: skip keeps the rows).
TRADITIONAL = str.maketrans({"电": "電", "华": "華", "机": "機", "饰": "飾", "丰": "豐", "龙": "龍", "凤": "鳳",
                             "发": "發", "贵": "貴", "气": "氣", "线": "線", "缆": "纜", "东": "東", "兴": "興"})  # fmt: skip


@dataclass(frozen=True)
class Org:
    org_id: str
    trade: str
    industry: str
    form: str
    province: str
    city: str
    code: str
    former: str | None
    english: str | None = None  # a foreign manufacturer's brand, registered under its English name

    @property
    def name(self) -> str:
        if self.english:
            return f"{self.english} {ENGLISH_INDUSTRY[self.industry]} Co., Ltd."
        return f"{self.city}市{self.trade}{self.industry}{self.form}"

    def record(self) -> RegistryRecord:
        former = (self.former,) if self.former else ()
        return RegistryRecord(
            self.org_id,
            self.name,
            self.code,
            former,
            f"{self.province}省{self.city}市某某路1号",
            self.province,
            self.city,
        )


@dataclass(frozen=True)
class Query:
    record_id: str
    name: str
    credit_code: str
    address: str
    expected: str  # org_id, or "" for none
    variant: str
    negative: bool

    @property
    def auto_expected(self) -> bool:
        """Branches and dropped characters are leads for a reviewer by design: positives for review, not
        for auto-match."""
        return not self.negative and self.variant not in ("branch", "dropped_character")


def registry(count: int, seed: int = 11) -> list[Org]:
    """`count` organisations with unique (字号, industry) pairs, in cities of their provinces."""
    rng = random.Random(seed)
    seen: set[tuple[str, str]] = set()
    orgs: list[Org] = []
    cities = [(c, p) for c, p in CITIES.items()]
    while len(orgs) < count:
        i = len(orgs)
        english = None
        if i % 40 == 13:
            english = "".join(rng.sample(SYLLABLES, 2 if rng.random() < 0.5 else 3)).capitalize()
            trade = english.upper()
        elif i % 50 == 7:
            trade = "".join(rng.sample(LATIN, 3))  # a Latin brand as 字号: ＡＢＣ电器 ≡ abc电器
        else:
            trade = "".join(rng.sample(TRADE_CHARS, 2 if rng.random() < 0.8 else 3))
        industry = rng.choice(INDUSTRIES)
        if (trade, industry) in seen:
            continue
        seen.add((trade, industry))
        city, province = rng.choice(cities)
        form = "股份有限公司" if i % 10 == 0 else "有限公司"
        code = make_uscc(
            f"{PROVINCES[province]}0100", f"PD{'ABCDEFGHJKLMNPQRTUWXY'[i // 100_000 % 21]}{i % 100_000:05d}"
        )
        former = f"{city}市{trade}{industry}厂" if i % 17 == 0 and not english else None
        orgs.append(Org(f"ORG{i:07d}", trade, industry, form, province, city, code, former, english))
    return orgs


def variants(org: Org, rng: random.Random, cores: set[str]) -> Iterator[tuple[str, str, str]]:
    """(variant, name, credit code) for the ways a source writes this organisation's name. `cores`: every
    organisation's 字号+行业, so that a dropped character never makes another organisation's name."""
    if org.english:
        yield "exact", org.name, ""
        words = f"{org.english} {ENGLISH_INDUSTRY[org.industry]}"
        yield "english_case_and_form", f"{words.upper()} {rng.choice(ENGLISH_FORMS).upper()}", ""
        yield "china_infix", f"{org.english} (China) {ENGLISH_INDUSTRY[org.industry]} {rng.choice(ENGLISH_FORMS)}", ""
        yield "with_code", words.lower(), org.code
        return
    base = f"{org.trade}{org.industry}"
    other_form = {"有限公司": "有限责任公司", "股份有限公司": "股份公司"}[org.form]
    yield "exact", org.name, ""
    yield (
        "full_width_and_spaces",
        f"{org.city}市　{base} {org.form}",
        "",
    )
    yield "form_variant", f"{org.city}市{base}{other_form}", ""
    yield "region_in_brackets", f"{base}（{org.city}）{org.form}", ""
    yield "province_prefix", f"{org.province}{base}{org.form}", ""
    yield "province_and_city_prefix", f"{org.province}省{org.city}市{base}{org.form}", ""
    yield "no_region", f"{base}{org.form}", ""
    yield "half_width_brackets", f"{base}({org.province}){org.form}", ""
    yield "traditional", f"{org.city}市{base}{org.form}".translate(TRADITIONAL), ""
    yield "ocr_typo", f"{org.city}巿{base}{org.form}", ""
    yield "annotation", f"{org.city}市{base}{org.form}({rng.choice(('受托方', '委托方', '购进'))})", ""
    yield "china_infix", f"{base}（中国）{org.form}", ""
    yield "district_prefix", f"{org.city}市{rng.choice(DISTRICTS)}{base}{org.form}", ""
    branch = rng.choice(CITY_NAMES)
    yield "branch", f"{org.city}市{base}{org.form}" + rng.choice((f"{branch}分公司", f"（{branch}）分公司")), ""
    if org.trade.isascii():
        brand = "".join(chr(ord(c) + 0xFEE0) for c in rng.choice((org.trade, org.trade.lower())))
        yield "latin_brand_width_and_case", f"{org.city}市{brand}{org.industry}{org.form}", ""
    if rng.random() < 0.2:
        at = rng.randrange(1, len(base))  # an OCR'd bulletin drops a character: a lead, never a match
        dropped = base[:at] + base[at + 1 :]
        if dropped not in cores:
            yield "dropped_character", f"{org.city}市{dropped}{org.form}", ""
    yield "credit_code_as_name", org.code, ""
    yield "with_code", f"{base}{org.form}", org.code
    if org.former:
        yield "former_name", org.former, ""


def negatives(org: Org, rng: random.Random, taken: set[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """Names of other enterprises that look like this organisation's."""
    if org.english:
        industry = SWAP_INDUSTRY.get(org.industry, "贸易")
        if (org.trade, industry) not in taken:
            yield "other_industry", f"{org.english} {ENGLISH_INDUSTRY[industry]} Co., Ltd."
        return
    others = [c for c, p in CITIES.items() if p != org.province]
    elsewhere = rng.choice(others)
    yield "same_trade_name_other_province", f"{elsewhere}市{org.trade}{org.industry}有限公司"
    nearby = [c for c, p in CITIES.items() if p == org.province and c != org.city]
    if nearby:  # another city's registration authority: the same 字号 there is another company
        yield "same_trade_name_other_city", f"{rng.choice(nearby)}市{org.trade}{org.industry}{org.form}"
    industry = SWAP_INDUSTRY.get(org.industry, "贸易")
    if (org.trade, industry) not in taken:
        yield "other_industry", f"{org.city}市{org.trade}{industry}{org.form}"
    form = rng.choice(UNINCORPORATED[1:] if org.former else UNINCORPORATED)  # its own former name is no negative
    yield "workshop_same_trade_name", f"{org.city}市某某区{org.trade}{org.industry}{form}"
    for _ in range(5):
        swapped = org.trade[:-1] + rng.choice(TRADE_CHARS)
        if swapped != org.trade and (swapped, org.industry) not in taken:
            yield "trade_name_one_char_off", f"{org.city}市{swapped}{org.industry}{org.form}"
            break


def queries(orgs: list[Org], seed: int = 12, sample: int = 800) -> list[Query]:
    rng = random.Random(seed)
    taken = {(o.trade, o.industry) for o in orgs}
    cores = {trade + industry for trade, industry in taken}
    out: list[Query] = []
    for org in rng.sample(orgs, min(sample, len(orgs))):
        for variant, name, code in variants(org, rng, cores):
            out.append(Query(f"Q{len(out):06d}", name, code, "", org.org_id, variant, False))
        for variant, name in negatives(org, rng, taken):
            out.append(Query(f"Q{len(out):06d}", name, "", "", "", variant, True))
    for placeholder in ("/", "—", "无", " ", "／"):
        out.append(Query(f"Q{len(out):06d}", placeholder, "", "", "", "placeholder", True))
    return out


def write_csv(orgs: list[Org], found: list[Query], folder: Path) -> tuple[Path, Path]:
    """REGISTRY.csv and IN.csv in the screening command's formats (and a labels file beside them)."""
    folder.mkdir(parents=True, exist_ok=True)
    registry_path, input_path = folder / "registry.csv", folder / "input.csv"
    with registry_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["org_id", "name", "credit_code", "former_names", "address"])
        writer.writerows((o.org_id, o.name, o.code, o.former or "", o.record().address) for o in orgs)
    with input_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "name", "credit_code", "address", "expected_org_id", "variant"])
        writer.writerows((q.record_id, q.name, q.credit_code, q.address, q.expected, q.variant) for q in found)
    return registry_path, input_path
