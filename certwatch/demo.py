"""Demo data for `certwatch run`: a synthetic registry and a night's worth of signals.

All names are made up and every credit code uses the GB 11714 self-defined PDY range, so no record
can belong to a real organisation (DOMAIN.md §4.6).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from shared.identifiers import make_uscc


@dataclass(frozen=True)
class DemoOrg:
    ref: str
    name: str
    region: str
    province: str
    city: str
    certificate_type: str
    product: str

    @property
    def code(self) -> str:
        return make_uscc(self.region, f"PDY{int(self.ref[-3:]):05d}")


ORGS = [
    DemoOrg("ORG-001", "浙江宏远电器有限公司", "330212", "浙江", "宁波", "CCC", "电动自行车用充电器"),
    DemoOrg("ORG-002", "佛山市顺德区澄川电器制造有限公司", "440606", "广东", "佛山", "CCC", "家用电冰箱"),
    DemoOrg("ORG-003", "昆山市凌岳线缆有限公司", "320583", "江苏", "苏州", "QMS", "电线电缆"),
    DemoOrg("ORG-004", "青岛海湾童趣服饰有限公司", "370211", "山东", "青岛", "QMS", "儿童服装"),
    DemoOrg("ORG-005", "东莞市瑞泽五金制品有限公司", "441900", "广东", "东莞", "EMS", "五金制品"),
    DemoOrg("ORG-006", "晋江市福锦食品有限公司", "350582", "福建", "泉州", "QMS", "糕点"),
    DemoOrg("ORG-007", "上海澄海食品股份有限公司", "310115", "上海", "上海", "QMS", "即食海参"),
    DemoOrg("ORG-008", "浙江禾丰源食品有限公司", "330212", "浙江", "宁波", "QMS", "酱卤肉制品"),
]

REGISTRY_COLUMNS = [
    "org_id",
    "name",
    "credit_code",
    "former_names",
    "address",
    "province",
    "city",
    "contact_name",
    "contact_email",
    "contact_mobile",
    "contact_language",
    "certificate_no",
    "certificate_type",
    "standard",
    "scope",
    "products",
    "certificate_status",
]


def registry_csv(mail_domain: str = "example.com") -> bytes:
    """The certification body's export: one row per certificate."""
    out = io.StringIO()
    writer = csv.DictWriter(out, REGISTRY_COLUMNS)
    writer.writeheader()
    for i, org in enumerate(ORGS, start=1):
        writer.writerow(
            {
                "org_id": org.ref,
                "name": org.name,
                "credit_code": org.code,
                "former_names": "",
                "address": f"{org.province}省{org.city}市某某路{i}号",
                "province": org.province,
                "city": org.city,
                "contact_name": "质量负责人",
                "contact_email": f"quality{i:03d}@{mail_domain}",
                "contact_mobile": f"1380013{i:04d}",
                "contact_language": "zh-CN" if i % 4 else "en",
                "certificate_no": f"DEMO-{org.certificate_type}-{i:04d}",
                "certificate_type": org.certificate_type,
                "standard": "GB/T 19001-2016" if org.certificate_type == "QMS" else "",
                "scope": f"{org.product}的生产",
                "products": org.product,
                "certificate_status": "有效",
            }
        )
    return out.getvalue().encode("utf-8")


def signals() -> list[dict[str, Any]]:
    """Signals that name some of the demo organisations by credit code, and some that match nobody."""
    spot = [
        {
            "feed": "samr-national-spot-check",
            "kind": "spot_check_failure",
            "subject": {"name": ORGS[0].name, "credit_code": ORGS[0].code, "province": "浙江"},
            "product": {"name": "电动自行车用充电器", "model": "HY-4820A", "brand": "宏远"},
            "detail": {
                "bulletin_no": "市场监管总局2024年第11号",
                "level": "national",
                "failed_items": [{"item": "输出电压"}, {"item": "标志和说明"}],
            },
            "published_on": "2024-06-18",
        },
        {
            "feed": "gsxt-serious-illegal",
            "kind": "serious_illegal_listed",
            "subject": {"name": ORGS[2].name, "credit_code": ORGS[2].code},
            "detail": {
                "authority": "苏州市市场监督管理局",
                "reason": "复查仍不合格（第47条公告）",
                "listed_on": "2024-10-19",
            },
        },
        {
            "feed": "gsxt-abnormal",
            "kind": "abnormal_operation_listed",
            "subject": {"name": ORGS[4].name, "credit_code": ORGS[4].code},
            "detail": {"authority": "东莞市市场监督管理局", "reason": "通过登记的住所或者经营场所无法联系"},
        },
        {
            "feed": "ccc-status",
            "kind": "ccc_suspended",
            "subject": {"name": ORGS[1].name, "credit_code": ORGS[1].code},
            "detail": {"certificate_no": "2021010701002233", "status": "暂停"},
        },
        {
            "feed": "gsxt-abnormal",
            "kind": "abnormal_operation_listed",
            "subject": {"name": "某某无关贸易有限公司", "credit_code": make_uscc("110105", "PDY09999")},
            "detail": {"reason": "未按规定公示年度报告"},
        },
    ]
    return spot


def expected_risk_events() -> int:
    """Each demo signal that names a demo organisation's code raises one risk event."""
    codes = {org.code for org in ORGS}
    return sum(1 for s in signals() if s["subject"]["credit_code"] in codes)


def expected_alerts() -> int:
    """One email and one SMS per risk event: every demo organisation has one contact with both."""
    return 2 * expected_risk_events()
