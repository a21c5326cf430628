"""Registry request and response models."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["email", "sms"]
CHANNELS: tuple[Channel, ...] = ("email", "sms")


class ContactIn(BaseModel):
    name: str | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    mobile: str | None = Field(default=None, max_length=30)
    language: str = Field(default="zh-CN", pattern=r"^(zh-CN|en)$")
    channels: list[Channel] = Field(
        default_factory=lambda: list(CHANNELS), min_length=1, description="how the contact wants to be told"
    )


class SiteIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    address: str | None = None
    province: str | None = None
    city: str | None = None


class CertificateIn(BaseModel):
    number: str = Field(min_length=1, max_length=100)
    type: str = Field(min_length=1, max_length=30)
    standard: str | None = None
    scope: str | None = None
    products: list[str] = Field(default_factory=list)
    status: str = Field(default="valid", pattern=r"^(valid|suspended|withdrawn|cancelled|expired)$")
    status_changed_on: date | None = None
    issued_on: date | None = None
    expires_on: date | None = None
    sites_covered: list[str] = Field(default_factory=list)
    applicant: str | None = None
    manufacturer: str | None = None
    factory: str | None = None


class OrganisationIn(BaseModel):
    """The full state of one organisation, as the certification body's export gives it."""

    model_config = ConfigDict(extra="forbid")

    external_ref: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=300)
    former_names: list[str] = Field(default_factory=list)
    credit_code: str | None = None
    address: str | None = None
    province: str | None = None
    city: str | None = None
    sites: list[SiteIn] = Field(default_factory=list)
    contacts: list[ContactIn] = Field(default_factory=list)
    certificates: list[CertificateIn] = Field(default_factory=list)


class ContactRead(ContactIn):
    model_config = ConfigDict(from_attributes=True)


class CertificateRead(CertificateIn):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    external_ref: str
    name: str
    former_names: list[str]
    credit_code: str | None
    address: str | None
    province: str | None
    city: str | None
    sites: list[SiteIn]
    revision: int
    contacts: list[ContactRead]
    certificates: list[CertificateRead]


class ImportProblem(BaseModel):
    row: int
    field: str
    problem: str


class ImportReport(BaseModel):
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    problems: list[ImportProblem] = Field(default_factory=list)
