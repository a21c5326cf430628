"""Reading the certification body's registry export (CSV, one row per certificate) into upserts."""

from __future__ import annotations

import codecs
import csv
import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from services.rules.matcher.regions import city_of_place, province_of_place
from services.rules.registry.schemas import CertificateIn, ContactIn, ImportProblem, OrganisationIn, SiteIn
from shared.contracts import deterministic_id
from shared.errors import InvalidInput
from shared.identifiers import check_code, quick_valid

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


def _encoding(data: bytes) -> str:
    """UTF-8 or GB18030, found without decoding the file into one string (a million-row export is a few
    hundred MB of text, and a copy or two of it would be most of an import's memory)."""
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for start in range(0, len(data), 1 << 20):
                decoder.decode(data[start : start + (1 << 20)])
            decoder.decode(b"", final=True)
            return encoding
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


def _text_stream(data: bytes) -> io.TextIOWrapper:
    """The file as lines of text, decoded as they are read (no copy of the whole file as a string)."""
    if data.startswith(b"PK\x03\x04"):
        return io.TextIOWrapper(io.BytesIO(_xlsx_text(data).encode()), encoding="utf-8", newline="")
    return io.TextIOWrapper(io.BytesIO(data), encoding=_encoding(data), newline="")


# The longest cell a registry export may have: the csv module's default, set on every read because the limit is
# the process's (ingest's reader raises it for bulletins, whose over-long cells reject a row, not the file).
REGISTRY_FIELD_LIMIT = 128 * 1024


def _rows(data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    csv.field_size_limit(REGISTRY_FIELD_LIMIT)
    reader = csv.DictReader(_text_stream(data))
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
    raw = row.get("credit_code")
    if raw and quick_valid(raw) is None:  # the full check (python-stdnum, ~0.2 ms) only to say what is wrong
        check = check_code(raw)
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


# The export's column each model's field is read from (the others have the column's name): a problem names
# the column the user wrote, not the model's field.
COLUMNS: dict[str, dict[str, str]] = {
    CertificateIn.__name__: {
        "number": "certificate_no",
        "type": "certificate_type",
        "status": "certificate_status",
        "sites_covered": "sites",
    },
    ContactIn.__name__: {
        "name": "contact_name",
        "email": "contact_email",
        "mobile": "contact_mobile",
        "language": "contact_language",
        "channels": "contact_channels",
    },
    SiteIn.__name__: {"name": "sites", "address": "sites", "province": "sites", "city": "sites"},
    OrganisationIn.__name__: {"external_ref": "org_id"},
}


def _column(model: str, loc: tuple[int | str, ...]) -> str:
    """The export's column behind a validation error of `model` at `loc` (a list's index left out)."""
    names = [str(part) for part in loc if not isinstance(part, int)]
    if not names:
        return model
    return COLUMNS.get(model, {}).get(names[0], names[0])


def _merge(organisations: dict[str, OrganisationIn], row: dict[str, str]) -> None:
    ref = row["org_id"]
    org = organisations.get(ref) or OrganisationIn(
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
    organisations[ref] = org


# What an import stages per organisation (one COPY row): see registry/bulk.py.
PIECE_COLUMNS = (
    "seq",
    "ref",
    "id",
    "name",
    "former_names",
    "credit_code",
    "address",
    "province",
    "city",
    "sites",
    "contacts",
    "certificates",
)
CERTIFICATE_COLUMNS = ("number", "id")


@dataclass
class Chunk:
    """Organisations read so far and not yet handed over, as COPY rows: each a piece of an organisation,
    numbered in the order of their first rows (its rows among these; an organisation whose rows are far
    apart in the file comes in several pieces, merged in SQL, the first one's fields kept), and the ids of
    their certificates."""

    pieces: list[tuple[Any, ...]] = field(default_factory=list)
    certificates: list[tuple[str, uuid.UUID]] = field(default_factory=list)


def organisation_id(external_ref: str) -> uuid.UUID:
    return deterministic_id("organisation", external_ref)


# Each list as JSON, as OrganisationIn.model_dump(mode="json") gives it (written by pydantic's core).
_SITES = TypeAdapter(list[SiteIn])
_CONTACTS = TypeAdapter(list[ContactIn])
_CERTIFICATES = TypeAdapter(list[CertificateIn])


class RegistryStream:
    """The export read a chunk of organisations at a time (an iterator of `Chunk`), so that a million rows
    are never held as a million models: each chunk is copied into the database and dropped.

    Per-row problems are collected in `problems` (row, field, problem), and such a row is skipped; a file
    that cannot be read as a whole raises InvalidInput. `advance` is told how many rows were read, a
    thousand at a time (a job's progress). `chunk`: organisations per chunk; None keeps them all in
    `organisations` (and yields nothing)."""

    def __init__(self, data: bytes, advance: Callable[[int], None] | None = None, chunk: int | None = 2000) -> None:
        self.data, self.advance, self.chunk = data, advance, chunk
        self.organisations: dict[str, OrganisationIn] = {}
        self.problems: list[ImportProblem] = []
        self.rows = self.rejected_rows = 0
        self._owners: dict[str, str] = {}  # certificate number -> the organisation that has it in this file
        self._handed: set[str] = set()  # organisations handed over in earlier chunks
        self.split: set[str] = set()  # organisations in more than one piece (their rows far apart)
        self.pieces = 0

    def __iter__(self) -> Iterator[Chunk]:
        for number, row in _rows(self.data):
            self.rows += 1
            if self.advance is not None and self.rows % 1000 == 0:
                self.advance(1000)
            problems = _row_problems(number, row) or self._certificate_problems(number, row)
            if not problems:
                try:
                    _merge(self.organisations, row)
                except ValidationError as exc:
                    problems = [
                        ImportProblem(row=number, field=_column(exc.title, e["loc"]), problem=e["msg"])
                        for e in exc.errors()
                    ]
                else:
                    if row.get("certificate_no"):
                        self._owners.setdefault(row["certificate_no"], row["org_id"])
            if problems:
                self.rejected_rows += 1
                self.problems.extend(problems)
            if self.chunk is not None and len(self.organisations) >= self.chunk:
                yield self._handed_over()
        if self.chunk is not None and self.organisations:
            yield self._handed_over()

    def _certificate_problems(self, number: int, row: dict[str, str]) -> list[ImportProblem]:
        """A certificate number is one certificate: a second organisation claiming it is refused (the row)."""
        owner = self._owners.get(row.get("certificate_no") or "")
        if owner is None or owner == row["org_id"]:
            return []
        return [ImportProblem(row=number, field="certificate_no", problem=f"is the certificate of {owner} already")]

    def _handed_over(self) -> Chunk:
        chunk = Chunk()
        for ref, org in self.organisations.items():
            if ref in self._handed:
                self.split.add(ref)
            self._handed.add(ref)
            self.pieces += 1
            chunk.pieces.append(
                (
                    self.pieces,
                    ref,
                    organisation_id(ref),
                    org.name,
                    org.former_names,
                    quick_valid(org.credit_code) if org.credit_code else None,
                    org.address,
                    org.province,
                    org.city,
                    _SITES.dump_json(org.sites).decode(),
                    _CONTACTS.dump_json(org.contacts).decode(),
                    _CERTIFICATES.dump_json(org.certificates).decode(),
                )
            )
            for certificate in org.certificates:
                chunk.certificates.append((certificate.number, deterministic_id("certificate", certificate.number)))
        self.organisations.clear()
        return chunk


def parse_registry_csv(data: bytes) -> Parsed:
    """Parse the export, CSV (UTF-8 or GB18030) or XLSX."""
    return parse_registry(data)


def parse_registry(data: bytes, advance: Callable[[int], None] | None = None) -> Parsed:
    """The whole export at once, as models (small files, tests): see RegistryStream."""
    stream = RegistryStream(data, advance, chunk=None)
    for _ in stream:
        pass
    return Parsed(stream.organisations, stream.problems, stream.rows, stream.rejected_rows)
