"""Administrative regions used in enterprise names and addresses (GB/T 2260, provincial level and the
main prefecture-level cities). Enough to strip a region prefix and to tell provinces apart."""

from __future__ import annotations

import cython

PROVINCES = {  # short name -> 2-digit GB/T 2260 code
    "北京": "11", "天津": "12", "河北": "13", "山西": "14", "内蒙古": "15", "辽宁": "21", "吉林": "22",
    "黑龙江": "23", "上海": "31", "江苏": "32", "浙江": "33", "安徽": "34", "福建": "35", "江西": "36",
    "山东": "37", "河南": "41", "湖北": "42", "湖南": "43", "广东": "44", "广西": "45", "海南": "46",
    "重庆": "50", "四川": "51", "贵州": "52", "云南": "53", "西藏": "54", "陕西": "61", "甘肃": "62",
    "青海": "63", "宁夏": "64", "新疆": "65", "台湾": "71", "香港": "81", "澳门": "82",
}  # fmt: skip
PROVINCE_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "特别行政区", "自治区", "省", "市")  # longest first

CITIES = {  # city short name -> province short name
    "石家庄": "河北", "唐山": "河北", "保定": "河北", "邯郸": "河北", "廊坊": "河北", "沧州": "河北",
    "太原": "山西", "大同": "山西", "呼和浩特": "内蒙古", "包头": "内蒙古", "沈阳": "辽宁", "大连": "辽宁",
    "鞍山": "辽宁", "长春": "吉林", "吉林": "吉林", "哈尔滨": "黑龙江", "大庆": "黑龙江", "南京": "江苏",
    "无锡": "江苏", "徐州": "江苏", "常州": "江苏", "苏州": "江苏", "南通": "江苏", "扬州": "江苏",
    "镇江": "江苏", "泰州": "江苏", "盐城": "江苏", "昆山": "江苏", "江阴": "江苏", "张家港": "江苏",
    "杭州": "浙江", "宁波": "浙江", "温州": "浙江", "嘉兴": "浙江", "湖州": "浙江", "绍兴": "浙江",
    "金华": "浙江", "台州": "浙江", "义乌": "浙江", "慈溪": "浙江", "余姚": "浙江", "合肥": "安徽",
    "芜湖": "安徽", "蚌埠": "安徽", "福州": "福建", "厦门": "福建", "泉州": "福建", "漳州": "福建",
    "晋江": "福建", "莆田": "福建", "南昌": "江西", "赣州": "江西", "济南": "山东", "青岛": "山东",
    "淄博": "山东", "烟台": "山东", "潍坊": "山东", "临沂": "山东", "济宁": "山东", "威海": "山东",
    "郑州": "河南", "洛阳": "河南", "新乡": "河南", "武汉": "湖北", "宜昌": "湖北", "襄阳": "湖北",
    "长沙": "湖南", "株洲": "湖南", "湘潭": "湖南", "广州": "广东", "深圳": "广东", "珠海": "广东",
    "汕头": "广东", "佛山": "广东", "东莞": "广东", "中山": "广东", "江门": "广东", "惠州": "广东",
    "湛江": "广东", "肇庆": "广东", "南宁": "广西", "柳州": "广西", "桂林": "广西", "海口": "海南",
    "三亚": "海南", "成都": "四川", "绵阳": "四川", "贵阳": "贵州", "遵义": "贵州", "昆明": "云南",
    "拉萨": "西藏", "西安": "陕西", "宝鸡": "陕西", "兰州": "甘肃", "西宁": "青海", "银川": "宁夏",
    "乌鲁木齐": "新疆",
}  # fmt: skip
CITY_SUFFIXES = ("自治州", "地区", "市", "盟")  # longest first
DISTRICT_SUFFIXES = ("区", "县", "市", "旗")
MUNICIPALITIES = {"北京", "天津", "上海", "重庆"}
# A city named like its province: 吉林市 is the city, 吉林省 the province.
CITY_NAMED_AS_PROVINCE = {name for name in PROVINCES if name in CITIES and name not in MUNICIPALITIES}
CODE_TO_PROVINCE = {code: name for name, code in PROVINCES.items()}


def _by_first_two(names: list[str]) -> dict[str, list[str]]:
    """Names by their first two characters, longest first: a place is checked against a handful."""
    index: dict[str, list[str]] = {}
    for name in sorted(names, key=len, reverse=True):
        index.setdefault(name[:2], []).append(name)
    return index


PROVINCE_PREFIX = _by_first_two(list(PROVINCES))
CITY_PREFIX = _by_first_two(list(CITIES))


@cython.ccall
def leading(text: str, index: dict) -> str | None:
    """The region `text` starts with, if any."""
    for name in index.get(text[:2], ()):
        if text.startswith(name):
            return name
    return None


@cython.ccall
def place_of(place: str | None) -> tuple:
    """(province, city) a place names: a province, a city, or an address that starts with either.

    By look-ups on the first two characters (longest name first, suffixes in list order); the names
    returned are the tables' own strings, shared by every organisation naming them."""
    if not place:
        return None, None
    if province := leading(place, PROVINCE_PREFIX):
        if province in MUNICIPALITIES:
            return province, province
        rest = place[len(province) :]
        if province in CITY_NAMED_AS_PROVINCE and rest.startswith("市"):
            return province, province
        for suffix in PROVINCE_SUFFIXES:
            if rest.startswith(suffix):
                rest = rest[len(suffix) :]
                break
        return province, leading(rest, CITY_PREFIX)
    city = leading(place, CITY_PREFIX)
    return (CITIES[city], city) if city else (None, None)


def province_of_place(place: str | None) -> str | None:
    """The province named by a place: a province, a city, or an address that starts with either."""
    return place_of(place)[0]


def city_of_place(place: str | None) -> str | None:
    return place_of(place)[1]


def province_of_code(code: str | None) -> str | None:
    """Positions 3–4 of a credit code: the province of the registering authority."""
    return CODE_TO_PROVINCE.get(code[2:4]) if code and len(code) == 18 else None
