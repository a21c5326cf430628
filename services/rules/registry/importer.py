"""Reading the certification body's registry export (CSV, one row per certificate) into upserts."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pydantic import ValidationError

from services.rules.matcher.regions import city_of_place, province_of_place
from services.rules.registry.schemas import CertificateIn, ContactIn, ImportProblem, OrganisationIn, SiteIn
from shared.errors import InvalidInput
from shared.identifiers import check_code

REQUIRED = ("org_id", "name")
STATUS_WORDS = {
    "有效": "valid",
    "暂停": "suspended",
    "撤销": "withdrawn",
    "注销": "cancelled",
    "过期": "expired",
}


@dataclass
class Parsed:
    organisations: dict[str, OrganisationIn] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)
    rows: int = 0
    rejected_rows: int = 0


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the registry file is neither UTF-8 nor GB18030 text")


def _xlsx_text(data: bytes) -> str:
    """The first sheet of an XLSX export as CSV text, so both formats share one reader."""
    import openpyxl

    try:
        sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises many types for broken workbooks
        raise InvalidInput(f"the registry XLSX cannot be read: {type(exc).__name__}: {exc}") from exc
    out = io.StringIO()
    writer = csv.writer(out)
    for row in sheet.iter_rows(values_only=True):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(f"the registry file has no column {', '.join(missing)}", missing=missing)
    try:
        for number, row in enumerate(reader, start=2):
            yield number, {k: (v or "").strip() for k, v in row.items() if k}
    except csv.Error as exc:  # a field over the csv module's limit, a NUL: the file as a whole is unreadable
        raise InvalidInput(f"the registry CSV is malformed after line {reader.line_num}: {exc}") from exc


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.replace("；", "|").replace(";", "|").split("|") if part.strip()]


def _row_problems(number: int, row: dict[str, str]) -> list[ImportProblem]:
    problems = [ImportProblem(row=number, field=c, problem="is empty") for c in REQUIRED if not row.get(c)]
    check = check_code(row.get("credit_code"))
    if check is not None and not check.valid:
        problems.append(ImportProblem(row=number, field="credit_code", problem=check.problem or "invalid"))
    return problems


def _sites(row: dict[str, str]) -> list[SiteIn]:
    """`sites`: production sites separated by |, each `name：address` or just an address."""
    sites = []
    for entry in _split(row.get("sites", "")):
        name, _, address = entry.replace("：", ":").partition(":")
        address = address or name
        sites.append(
            SiteIn(
                name=name.strip(),
                address=address.strip(),
                province=province_of_place(address),
                city=city_of_place(address),
            )
        )
    return sites


def _certificate(row: dict[str, str]) -> CertificateIn | None:
    if not row.get("certificate_no"):
        return None
    status = row.get("certificate_status") or "valid"
    return CertificateIn(
        issued_on=row.get("issued_on") or None,
        expires_on=row.get("expires_on") or None,
        sites_covered=[s.address or s.name for s in _sites(row)],
        number=row["certificate_no"],
        type=row.get("certificate_type") or "QMS",
        standard=row.get("standard") or None,
        scope=row.get("scope") or None,
        products=_split(row.get("products", "")),
        status=STATUS_WORDS.get(status, status),
        applicant=row.get("applicant") or None,
        manufacturer=row.get("manufacturer") or None,
        factory=row.get("factory") or None,
    )


def _contact(row: dict[str, str]) -> ContactIn | None:
    if not (row.get("contact_email") or row.get("contact_mobile")):
        return None
    return ContactIn(
        name=row.get("contact_name") or None,
        email=row.get("contact_email") or None,
        mobile=row.get("contact_mobile") or None,
        language=row.get("contact_language") or "zh-CN",
        channels=_split(row.get("contact_channels", "")) or ["email", "sms"],
    )


def _merge(parsed: Parsed, row: dict[str, str]) -> None:
    ref = row["org_id"]
    org = parsed.organisations.get(ref) or OrganisationIn(
        external_ref=ref,
        name=row["name"],
        former_names=_split(row.get("former_names", "")),
        credit_code=row.get("credit_code") or None,
        address=row.get("address") or None,
        province=row.get("province") or None,
        city=row.get("city") or None,
    )
    for site in _sites(row):
        if site not in org.sites:
            org.sites.append(site)
    contact, certificate = _contact(row), _certificate(row)
    if contact and contact not in org.contacts:
        org.contacts.append(contact)
    if certificate and all(c.number != certificate.number for c in org.certificates):
        org.certificates.append(certificate)
    parsed.organisations[ref] = org


def parse_registry_csv(data: bytes) -> Parsed:
    """Parse the export, CSV (UTF-8 or GB18030) or XLSX."""
    return parse_registry(data)


def parse_registry(data: bytes, advance: Callable[[int], None] | None = None) -> Parsed:
    """Rows with problems are reported (row, field, problem) and skipped; the rest is kept. `advance` is
    told how many rows were read, a thousand at a time (a job's progress)."""
    parsed = Parsed()
    text = _xlsx_text(data) if data.startswith(b"PK\x03\x04") else decode(data)
    for number, row in _rows(text):
        parsed.rows += 1
        if advance is not None and parsed.rows % 1000 == 0:
            advance(1000)
        problems = _row_problems(number, row)
        if not problems:
            try:
                _merge(parsed, row)
            except ValidationError as exc:
                problems = [
                    ImportProblem(row=number, field=".".join(map(str, e["loc"])), problem=e["msg"])
                    for e in exc.errors()
                ]
        if problems:
            parsed.rejected_rows += 1
            parsed.problems.extend(problems)
    return parsed
