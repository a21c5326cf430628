"""Project-made feed files for the demo, the local feed server and the tests.

Synthetic companies only: every credit code uses the GB 11714 self-defined PDY range (DOMAIN.md §4.6),
so none can belong to a real organisation. The files carry the quirks of the real ones: title and
note rows, several sheets, merged cells, combined failed-item cells, `/` placeholders, mixed dates,
GBK and BOM encodings, footnotes; and the bad files: empty, undecodable, truncated, zip bomb, a formatted
empty tail of 200,000 rows, a 10 MB cell.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from shared.identifiers import make_uscc

COMPANIES = [
    ("浙江宏远电器有限公司", "330212", "浙江", "宁波", "电动自行车用充电器", "宏远", "HY-4820A 48V/2A"),
    ("佛山市顺德区澄川电器制造有限公司", "440606", "广东", "佛山", "家用电冰箱", "澄川", "BCD-215WD"),
    ("昆山市凌岳线缆有限公司", "320583", "江苏", "苏州", "电线电缆", "凌岳", "BV 2.5mm²"),
    ("青岛海湾童趣服饰有限公司", "370211", "山东", "青岛", "儿童服装", "海湾童趣", "110cm"),
    ("东莞市瑞泽五金制品有限公司", "441900", "广东", "东莞", "不锈钢厨具", "瑞泽", "RZ-30"),
    ("晋江市福锦食品有限公司", "350582", "福建", "泉州", "糕点", "福锦", "500g/袋"),
    ("浙江禾丰源食品有限公司", "330212", "浙江", "宁波", "酱卤猪肉", "禾丰源", "250克/袋"),
    ("佛山市顺德区顺味源调味品有限公司", "440606", "广东", "佛山", "酿造酱油", "顺味源", "500mL/瓶"),
]


def code_of(index: int) -> str:
    """The valid credit code of synthetic company `index` (PDY00001, PDY00002, …)."""
    return make_uscc(COMPANIES[index % len(COMPANIES)][1], f"PDY{index + 1:05d}")


SPOT_HEADER = [
    "序号",
    "产品名称",
    "标称生产企业名称",
    "标称生产企业地址",
    "所在地",
    "被抽样单位名称",
    "电商平台",
    "商标",
    "规格型号",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "检验机构",
    "备注",
]


def spot_rows() -> list[list[object]]:
    """Rows of a national product bulletin, each with one of the real quirks."""
    c = COMPANIES
    return [
        [
            1,
            c[0][4],
            c[0][0],
            "浙江省宁波市鄞州区姜山镇某某路1号",
            "浙江",
            "宁波市鄞州区宏远电器厂",
            "/",
            c[0][5],
            c[0][6],
            "2024-01-09",
            "输出电压║52.1V║≤50.4V、标志和说明║不符合║应符合GB 4706.1",
            "国家电动自行车产品质量检验检测中心",
            "",
        ],
        [
            2,
            c[0][4],
            "宏远电器（浙江）有限公司",
            "/",
            "浙江",
            "杭州某某数码专营店",
            "某电商平台",
            "HONGYUAN",
            "HY4820-B",
            "20240211",
            "输入功率和电流║1.32A║≤1.2A",
            "某某检测技术（上海）有限公司",
            "网络抽样；标称生产者对产品提出异议正在核实",
        ],
        [
            3,
            c[1][4],
            c[1][0],
            "广东省佛山市顺德区某某工业区3号",
            "广东佛山",
            c[1][0],
            "/",
            c[1][5],
            c[1][6],
            "2024年03月",
            "能效等级|2级|1级;耗电量|0.62kWh/24h|≤0.55kWh/24h",
            "广东产品质量监督检验研究院",
            "",
        ],
        [
            4,
            c[2][4],
            c[2][0],
            "江苏省昆山市某某路8号",
            "江苏苏州",
            c[2][0],
            "/",
            c[2][5],
            c[2][6],
            "2024.05.06(购进日期)",
            "导体电阻‖0.0081Ω/m‖≤0.00741Ω/m",
            "江苏省产品质量监督检验研究院",
            "复查仍不合格（第47条公告）",
        ],
        [
            5,
            c[3][4],
            "青岛海湾童趣服饰有限公司（西海岸新区）分公司",
            "/",
            "山东青岛",
            "青岛海湾童趣服饰有限公司（西海岸新区）分公司",
            "/",
            c[3][5],
            c[3][6],
            "2024-07",
            "绳带要求、纤维含量",
            "青岛市产品质量检验研究院",
            "",
        ],
        [
            6,
            "电热水壶",
            "/",
            "/",
            "广东",
            "/",
            "/",
            "/",
            "/",
            "2024-03-01",
            "耐热和耐燃",
            "某某检测有限公司",
            "无标称生产者",
        ],
        [
            7,
            c[4][4],
            c[4][0],
            "广东省东莞市某某镇",
            "广东东莞",
            c[4][0],
            "/",
            c[4][5],
            c[4][6],
            "2024-02-30",
            "铬含量║11.2%║≥16%",
            "某某检测有限公司",
            "",
        ],
    ]


def write_spot_check_xlsx(path: Path) -> Path:
    """Two sheets: a national bulletin with title rows, merged cells and a footnote; a provincial one."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "国抽"
    sheet.append(["市场监管总局关于公布2024年电动自行车用充电器等产品质量国家监督抽查结果的公告"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(SPOT_HEADER))
    sheet.append(["市场监管总局2024年第11号 2024-06-18"])
    sheet.append(["（声明：以下信息仅指本次抽查标称的生产企业相关产品的生产日期/批号和所检项目）"])
    sheet.append(SPOT_HEADER)
    for row in spot_rows():
        sheet.append(row)
    first = 5
    sheet.merge_cells(start_row=first, start_column=2, end_row=first + 1, end_column=2)  # product merged over 2 rows
    sheet.append([])
    sheet.append(["注：不合格项目的判定依据为产品标准及相关规定。"])
    provincial = book.create_sheet("省抽")
    provincial.append(["广东省市场监督管理局2024年第3批省级监督抽查不合格产品名单"])
    provincial.append(
        ["序号", "样品名称", "标识生产企业名称", "所在地", "规格型号", "生产日期", "不合格项目", "抽查类别"]
    )
    provincial.append([1, "酿造酱油", COMPANIES[7][0], "广东佛山", "500mL/瓶", "2024/04/21", "氨基酸态氮", "省抽"])
    provincial.append([2, "不锈钢厨具", "", "广东", "RZ-30", "2024-01-01", "铬含量", "省抽"])
    book.save(path)
    return path


def write_spot_check_csv(path: Path, encoding: str = "utf-8") -> Path:
    """The national sheet as CSV, in utf-8, utf-8-sig (BOM) or gbk, with its title row above the header."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["市场监管总局2024年第11号 电动自行车用充电器等产品质量国家监督抽查不合格产品名单"])
    writer.writerow(SPOT_HEADER)
    writer.writerows(spot_rows())
    writer.writerow(["注：数据来源于市场监管总局。"])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


FOOD_HEADER = [
    "抽样编号",
    "序号",
    "标称生产企业名称",
    "标称生产企业地址",
    "被抽样单位名称",
    "被抽样单位所在省份",
    "食品名称",
    "规格型号",
    "商标",
    "生产日期/批号",
    "不合格项目║检验结果║标准值",
    "分类",
    "公告号",
    "公告日期",
    "任务来源/项目名称",
    "检验机构",
    "备注",
]


def write_food_csv(path: Path) -> Path:
    c = COMPANIES
    rows = [
        [
            "GC24330000123450123",
            1,
            c[6][0],
            "浙江省宁波市鄞州区姜山镇某某路88号",
            "某某超市有限公司杭州分店",
            "浙江",
            c[6][4],
            c[6][6],
            c[6][5],
            "2024-05-12",
            "菌落总数║1.2×10⁵CFU/g║n=5;c=2;m=10⁴;M=10⁵CFU/g",
            "肉制品",
            "2024年第18期",
            "2024-07-03",
            "市场监管总局",
            "浙江方圆检测集团股份有限公司",
            "",
        ],
        [
            "SC24440000987650045",
            2,
            c[7][0],
            "广东省佛山市顺德区勒流街道某某工业区3号",
            "顺德区勒流某某副食店",
            "广东",
            c[7][4],
            c[7][6],
            c[7][5],
            "2024/04/21",
            "氨基酸态氮║0.35g/100mL║≥0.40g/100mL",
            "调味品",
            "粤市监抽检〔2024〕27号",
            "2024-06-28",
            "广东省市场监督管理局",
            "广州检验检测认证集团有限公司",
            "",
        ],
        [
            "DC24320583004410009",
            3,
            "/",
            "/",
            "昆山市某某农贸市场王某某摊位",
            "江苏",
            "豇豆",
            "/",
            "/",
            "2024-06-02(购进日期)",
            "噻虫胺║0.12mg/kg║≤0.01mg/kg、灭蝇胺║0.9mg/kg║≤0.5mg/kg",
            "食用农产品",
            "2024年第9期",
            "2024-07-19",
            "昆山市市场监督管理局",
            "某某检测技术（苏州）有限公司",
            "",
        ],
        [
            "SC24370000555660071",
            4,
            "青岛澄海水产食品有限公司(受托方)",
            "山东省青岛市黄岛区某某路100号",
            "青岛某某商贸有限公司",
            "山东",
            "即食海参",
            "200g/盒",
            "海之澄（委托方：上海澄海食品股份有限公司）",
            "20240315",
            "苯甲酸及其钠盐(以苯甲酸计)║0.21g/kg║不得使用",
            "水产制品",
            "鲁市监抽〔2024〕12号",
            "2024-05-30",
            "山东省市场监督管理局",
            "山东省食品药品检验研究院",
            "",
        ],
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["（声明：以下信息仅指本次抽检标称的生产企业相关产品的生产日期/批号和所检项目）"])
    writer.writerow(FOOD_HEADER)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8-sig")
    return path


CREDIT_HEADER = [
    "序号",
    "统一社会信用代码/注册号",
    "企业名称",
    "列入日期",
    "列入原因",
    "作出决定机关",
    "移出日期",
    "移出原因",
]
REASONS = ["通过登记的住所或者经营场所无法联系", "未按照规定的期限公示年度报告", "公示企业信息隐瞒真实情况、弄虚作假"]


BODY_LETTERS = "ABCDEFGHJKLMNPQRTUWXY"  # letters a credit code may contain


def credit_rows(count: int, seed: int = 7, start: int = 0) -> list[list[object]]:
    """`count` list entries with valid codes (a few legacy 注册号), deterministic for a seed."""
    rows = []
    for i in range(start, start + count):
        region = COMPANIES[i % len(COMPANIES)][1]
        # PD + letter + 5 digits: 2.1 million distinct bodies (PDY… is GB 11714's reserved range).
        body = f"PD{BODY_LETTERS[i // 100_000 % len(BODY_LETTERS)]}{i % 100_000:05d}"
        code = make_uscc(region, body) if i % 50 else _regno(f"{region}{i % 10**8:08d}")
        rows.append(
            [
                i + 1,
                code,
                f"合成{i:07d}贸易有限公司",
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                REASONS[(i * 7 + seed) % len(REASONS)],  # a function of the entry: the same row in every snapshot
                "某某市市场监督管理局",
                "",
                "",
            ]
        )
    return rows


def _regno(first14: str) -> str:
    """A valid 15-digit registration number (ISO 7064 MOD 11,10) from its first 14 digits."""
    p = 10
    for digit in first14:
        s = (p + int(digit)) % 10 or 10
        p = (2 * s) % 11
    return first14 + str((11 - p) % 10)


def write_credit_csv(path: Path, rows: list[list[object]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CREDIT_HEADER)
        writer.writerows(rows)
    return path


def write_credit_increment(path: Path) -> Path:
    """A daily increment: listings of registry companies, a removal, an invalid code, a bad row."""
    rows = [
        [1, code_of(2), COMPANIES[2][0], "2024-10-19", "复查仍不合格（第47条公告）", "苏州市市场监督管理局", "", ""],
        [2, code_of(4), COMPANIES[4][0], "2024-07-12", REASONS[0], "东莞市市场监督管理局", "", ""],
        [
            3,
            code_of(5),
            COMPANIES[5][0],
            "2023-07-10",
            REASONS[1],
            "晋江市市场监督管理局",
            "2024-08-01",
            "已补报年度报告",
        ],
        [4, "91330212PDY0010124", "某某错码贸易有限公司", "2024-09-01", REASONS[1], "某某市市场监督管理局", "", ""],
        [5, "330212000123455", "宁波市鄞州区某某商行", "2024-09-02", REASONS[0], "宁波市鄞州区市场监督管理局", "", ""],
        [6, "/", "/", "2024-09-03", REASONS[0], "某某市市场监督管理局", "", ""],
        [7, code_of(6), COMPANIES[6][0], "2024-13-01", REASONS[0], "宁波市市场监督管理局", "", ""],
    ]
    return write_credit_csv(path, rows, encoding="gbk")


STATUS_HEADER = [
    "证书编号",
    "证书类型",
    "持证人",
    "统一社会信用代码",
    "产品/认证范围",
    "证书状态",
    "状态变更日期",
    "状态原因",
]


def write_status_csv(path: Path) -> Path:
    rows = [
        [
            "2021010701002233",
            "CCC",
            COMPANIES[1][0],
            code_of(1),
            "家用电冰箱 BCD-215WD",
            "暂停",
            "2024-06-25",
            "国家监督抽查不合格",
        ],
        [
            "XK06-001-00777",
            "工业产品生产许可证",
            COMPANIES[0][0],
            code_of(0),
            "电线电缆",
            "注销",
            "2025-05-20",
            "有效期届满未延续",
        ],
        ["2022010703004512", "CCC", COMPANIES[0][0], code_of(0), "电动自行车用充电器", "有效", "", ""],
        ["2020010703001111", "CCC", "", "", "插头插座", "撤销", "2024-03-01", ""],
        ["2020010703002222", "CCC", COMPANIES[4][0], code_of(4), "厨具", "冻结", "2024-03-01", ""],
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(STATUS_HEADER)
        writer.writerows(rows)
    return path


def accident_records() -> list[dict[str, object]]:
    return [
        {
            "enterprise": COMPANIES[0][0],
            "credit_code": code_of(0),
            "product": "电动自行车用充电器",
            "model": "HY-4820A",
            "type": "召回",
            "date": "2024-09-10",
            "description": "充电器过热可能引发火灾，召回2023年生产的批次",
            "authority": "市场监管总局缺陷产品管理中心",
            "notice_no": "召回〔2024〕31号",
        },
        {
            "enterprise": COMPANIES[3][0],
            "credit_code": "",
            "product": "儿童外套",
            "type": "事故",
            "date": "2024/10/02",
            "description": "帽绳缠绕导致儿童受伤",
            "authority": "青岛市市场监督管理局",
        },
        {
            "enterprise": "",
            "credit_code": "",
            "product": "电暖器",
            "type": "事故",
            "date": "2024-10-05",
            "description": "无企业",
        },
        {
            "enterprise": COMPANIES[1][0],
            "credit_code": code_of(1),
            "product": "冰箱",
            "type": "召回",
            "date": "2024-02-30",
        },
    ]


def write_accident_json(path: Path) -> Path:
    path.write_text(json.dumps({"records": accident_records()}, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_accident_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["企业名称", "统一社会信用代码", "产品名称", "型号", "类型", "日期", "描述", "发布机构", "公告号"]
        )
        for r in accident_records():
            writer.writerow(
                [
                    r.get(k, "")
                    for k in (
                        "enterprise",
                        "credit_code",
                        "product",
                        "model",
                        "type",
                        "date",
                        "description",
                        "authority",
                        "notice_no",
                    )
                ]
            )
    return path


# ---------------------------------------------------------------- bad files


def write_empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def write_wrong_encoding(path: Path) -> Path:
    """Bytes that are neither UTF-8 nor GBK/GB18030 (nor UTF-16, which has a byte-order mark and is read)."""
    path.write_bytes("序号,标称生产企业名称,产品名称\n1,".encode() + b"\x81\x20\xff\xfe" + "充电器\n".encode())
    return path


def write_truncated_xlsx(path: Path) -> Path:
    source = write_spot_check_xlsx(path.with_suffix(".full.xlsx"))
    data = source.read_bytes()
    source.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_zip_bomb(path: Path, inflated: int = 600 * 1024 * 1024) -> Path:
    """A small XLSX-shaped zip whose sheet inflates to hundreds of MB."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1 << 20)
            for _ in range(inflated >> 20):
                member.write(block)
    return path


def write_empty_rows_xlsx(path: Path, rows: int = 200_000, styled: bool = True) -> Path:
    """The national bulletin followed by `rows` empty rows, as a spreadsheet program leaves a formatted
    range: an empty, styled cell in every column (`styled=False`: empty strings, as a script writes them).
    The sheet's <dimension> covers them all."""
    import openpyxl
    from openpyxl.utils import get_column_letter

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(SPOT_HEADER)
    for row in spot_rows():
        sheet.append(row)
    book.save(path)
    first = len(spot_rows()) + 2
    columns = [get_column_letter(i + 1) for i in range(len(SPOT_HEADER))]
    empty = '<c r="{0}{1}" s="0"/>' if styled else '<c r="{0}{1}" t="inlineStr"><is><t></t></is></c>'

    def extra() -> Iterator[bytes]:
        for number in range(first, first + rows):
            yield (f'<row r="{number}">' + "".join(empty.format(c, number) for c in columns) + "</row>").encode()

    dimension = f"A1:{columns[-1]}{first + rows - 1}"
    return _rewrite_sheet(path, extra(), dimension)


def write_huge_cell_csv(path: Path, chars: int = 10 * 1024 * 1024) -> Path:
    """The national bulletin as CSV whose second row carries a note of `chars` characters (10 MB)."""
    rows = spot_rows()
    rows[1][-1] = _long_text(chars)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(SPOT_HEADER)
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def write_huge_cell_xlsx(path: Path, chars: int = 10 * 1024 * 1024) -> Path:
    """The same as XLSX: the note an inline string in the sheet's XML (Excel and openpyxl stop a cell at
    32,767 characters; a file made by another program need not). Varied text, so it compresses as text
    does, not as a zip bomb."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(SPOT_HEADER)
    rows = spot_rows()
    for row in rows:
        sheet.append(row)
    book.save(path)
    number = len(rows) + 2
    cell = f'<row r="{number}"><c r="A{number}"><v>{number - 1}</v></c><c r="C{number}" t="inlineStr"><is><t>'
    extra = [cell.encode(), _long_text(chars).encode(), b"</t></is></c></row>"]
    return _rewrite_sheet(path, extra, f"A1:M{number}")


def _long_text(chars: int) -> str:
    """`chars` characters of varied text (digits and letters, in a fixed order)."""
    import random

    letters = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "某" + "".join(random.Random(chars).choices(letters, k=chars - 1))


def write_utf16_text(path: Path) -> Path:
    """The national bulletin as Excel's "Unicode text" export writes it: UTF-16 with a byte-order mark,
    tab-separated, CRLF."""
    rows: list[list[object]] = [list(SPOT_HEADER), *spot_rows()]
    lines = ["\t".join(str(c) for c in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-16"))
    return path


def _rewrite_sheet(path: Path, extra_rows: Iterable[bytes], dimension: str) -> Path:
    """Append rows to the first sheet of a saved workbook, streamed (never the whole sheet in memory)."""
    source = path.with_suffix(".base.xlsx")
    path.rename(source)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                new.writestr(info, data)
                continue
            head, _, tail = data.partition(b"</sheetData>")
            head = re.sub(rb'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>'.encode(), head)
            with new.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
                member.write(head)
                for chunk in extra_rows:
                    member.write(chunk)
                member.write(b"</sheetData>" + tail)
    source.unlink()
    return path


def write_missing_columns(path: Path) -> Path:
    path.write_text("序号,规格型号,商标\n1,HY-4820A,宏远\n", encoding="utf-8")
    return path


def write_all(folder: Path) -> dict[str, Path]:
    """Every good file, for the local feed server and the demo."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        "spot_check.xlsx": write_spot_check_xlsx(folder / "spot_check.xlsx"),
        "spot_check_gbk.csv": write_spot_check_csv(folder / "spot_check_gbk.csv", "gb18030"),
        "food_spot_check.csv": write_food_csv(folder / "food_spot_check.csv"),
        "serious_illegal.csv": write_credit_increment(folder / "serious_illegal.csv"),
        "abnormal_snapshot.csv": write_credit_csv(
            folder / "abnormal_snapshot.csv",
            [
                [1, code_of(4), COMPANIES[4][0], "2024-07-12", REASONS[0], "东莞市市场监督管理局", "", ""],
                *credit_rows(2000, start=100),
            ],
        ),
        "licence_status.csv": write_status_csv(folder / "licence_status.csv"),
        "accidents.json": write_accident_json(folder / "accidents.json"),
    }
