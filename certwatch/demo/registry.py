"""Demo data for `certwatch run`: the certification body's registry of the synthetic companies that
the local feed server's files name (same names, same PDY-range credit codes, DOMAIN.md §4.6)."""

from __future__ import annotations

import csv
import io

from certwatch.demo.bulletins import COMPANIES, code_of

CERTIFICATE_TYPES = ["CCC", "CCC", "QMS", "QMS", "EMS", "QMS", "QMS", "QMS"]
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


def registry_rows(mail_domain: str = "example.com") -> list[dict[str, str]]:
    """The certification body's export: one row per certificate."""
    rows = []
    for i, (name, _, province, city, product, _, model) in enumerate(COMPANIES):
        certificate_type = CERTIFICATE_TYPES[i]
        rows.append(
            {
                "org_id": f"ORG-{i + 1:03d}",
                "name": name,
                "credit_code": code_of(i),
                "former_names": "",
                "address": f"{province}省{city}市某某路{i + 1}号",
                "province": province,
                "city": city,
                "contact_name": "质量负责人",
                "contact_email": f"quality{i + 1:03d}@{mail_domain}",
                "contact_mobile": f"1380013{i + 1:04d}",
                "contact_language": "en" if i % 4 == 3 else "zh-CN",
                "certificate_no": f"DEMO-{certificate_type}-{i + 1:04d}",
                "certificate_type": certificate_type,
                "standard": "GB/T 19001-2016" if certificate_type == "QMS" else "",
                "scope": f"{product}的生产",
                "products": f"{product}|{model}",
                "certificate_status": "有效",
            }
        )
    return rows


def registry_csv(mail_domain: str = "example.com") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, REGISTRY_COLUMNS)
    writer.writeheader()
    writer.writerows(registry_rows(mail_domain))
    return out.getvalue().encode("utf-8")
