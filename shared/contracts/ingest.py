"""Events published by the ingest service."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator


class SignalKind(StrEnum):
    SPOT_CHECK_FAILURE = "spot_check_failure"
    FOOD_SPOT_CHECK_FAILURE = "food_spot_check_failure"
    QUALITY_ACCIDENT = "quality_accident"
    RECALL = "recall"
    SERIOUS_ILLEGAL_LISTED = "serious_illegal_listed"
    SERIOUS_ILLEGAL_REMOVED = "serious_illegal_removed"
    ABNORMAL_OPERATION_LISTED = "abnormal_operation_listed"
    ABNORMAL_OPERATION_REMOVED = "abnormal_operation_removed"
    LICENCE_SUSPENDED = "licence_suspended"
    LICENCE_REVOKED = "licence_revoked"
    LICENCE_CANCELLED = "licence_cancelled"
    LICENCE_EXPIRED = "licence_expired"
    LICENCE_RESTORED = "licence_restored"
    CCC_SUSPENDED = "ccc_suspended"
    CCC_WITHDRAWN = "ccc_withdrawn"
    CCC_CANCELLED = "ccc_cancelled"
    CCC_EXPIRED = "ccc_expired"
    CCC_RESTORED = "ccc_restored"


class CheckLevel(StrEnum):
    """Who organised a spot check: 国抽 / 省抽 / 市抽 / 县抽."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"
    COUNTY = "county"


class CreditCodeStatus(StrEnum):
    VALID = "valid"  # an 18-character USCC that passes its checks
    VALID_LEGACY = "valid_legacy"  # a 15-digit registration number (注册号) that passes its check
    INVALID = "invalid"  # kept as evidence, never used as a match key
    ABSENT = "absent"

    @property
    def usable(self) -> bool:
        """Whether a code with this status may key a match (valid, or a valid former registration number)."""
        return self in (CreditCodeStatus.VALID, CreditCodeStatus.VALID_LEGACY)


class Subject(BaseModel):
    """The enterprise a signal names, as the source names it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=300)
    credit_code: str | None = Field(default=None, max_length=40)
    credit_code_status: CreditCodeStatus = CreditCodeStatus.ABSENT
    address: str | None = Field(default=None, max_length=500)
    province: str | None = Field(default=None, max_length=50)
    city: str | None = Field(default=None, max_length=50)
    role: str | None = Field(
        default=None, description="how the source names it: producer (标称生产者), sampled unit, holder, …"
    )

    @property
    def usable_code(self) -> str | None:
        """The credit code when it may key a match, else None: the one place that says so."""
        return self.credit_code if self.credit_code and self.credit_code_status.usable else None

    @field_validator("name")
    @classmethod
    def _name_is_not_blank(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("the subject's name is blank")
        return value


class Product(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    brand: str | None = None
    model: str | None = None
    batch: str | None = None
    production_date: date | None = None
    category: str | None = None


class FailedItem(BaseModel):
    """One failed test item: 不合格项目, with 检验结果 and 标准值 where given."""

    model_config = ConfigDict(frozen=True)

    item: str
    result: str | None = None
    standard: str | None = None


class SignalDetail(BaseModel):
    model_config = ConfigDict(frozen=True)

    failed_items: list[FailedItem] = Field(default_factory=list)
    authority: str | None = Field(default=None, description="issuing authority or deciding body")
    reason: str | None = None
    bulletin_no: str | None = None
    level: CheckLevel | None = None
    testing_body: str | None = None
    sampled_unit: str | None = None
    certificate_no: str | None = Field(default=None, description="licence / CCC certificate number")
    status: str | None = Field(default=None, description="status as the source says it (有效, 暂停, 撤销, …)")
    listed_on: date | None = None
    removed_on: date | None = None
    note: str | None = None


class Signal(BaseModel):
    """The canonical signal: one model for every feed."""

    model_config = ConfigDict(frozen=True)

    signal_id: uuid.UUID
    feed: str = Field(min_length=1, max_length=100)
    kind: SignalKind
    subject: Subject
    product: Product | None = None
    detail: SignalDetail = Field(default_factory=SignalDetail)
    published_on: date | None = None
    source_url: str | None = None
    raw_record_ref: str | None = Field(default=None, description="content hash of the raw record in ingest")

    @property
    def subject_key(self) -> str:
        """Kafka key: the credit code when valid, else the name (normalised by NFKC and whitespace)."""
        import unicodedata

        if self.subject.usable_code:
            return self.subject.usable_code
        return "".join(unicodedata.normalize("NFKC", self.subject.name).split())


class SignalReceived(Signal):
    """A new signal was accepted by ingest (exact re-deliveries are not published again)."""


class Party(Subject):
    """One of several parties a bulletin names in one cell (委托方 and 受委托方, 生产商 and 经销商, …)."""

    role_label: str | None = Field(default=None, max_length=30, description="the role as printed: 委托方, 经销商, …")
    origin: str | None = Field(default=None, max_length=50, description="原产国 of an importer's goods")


class ProductV2(Product):
    purchase_date: date | None = Field(default=None, description="购进日期, when the bulletin gives it instead")


class SignalV2(Signal):
    """Signal v2: every party a source names, each with its role; the purchase date beside the production date.

    `subject` stays the first party (the Kafka key and v1 readers use it). A v1 signal reads as v2 with
    no `parties`: `all_parties()` then gives the subject alone.
    """

    product: ProductV2 | None = None
    parties: list[Party] = Field(default_factory=list, max_length=10)

    def all_parties(self) -> list[Party]:
        return list(self.parties) or [Party(**self.subject.model_dump())]

    @classmethod
    def from_v1(cls, signal: Signal) -> Self:
        return cls.model_validate(signal.model_dump())


class SignalReceivedV2(SignalV2):
    """A new signal was accepted by ingest: v2, with its parties (exact re-deliveries are not published again)."""


class SignalKindV3(StrEnum):
    """Signal kinds of v3: every v2 kind, and the signals that correct an earlier one (issue 15 §3).

    A separate enum because a new value changes the v1/v2 schemas, which are never rewritten."""

    SPOT_CHECK_FAILURE = "spot_check_failure"
    FOOD_SPOT_CHECK_FAILURE = "food_spot_check_failure"
    QUALITY_ACCIDENT = "quality_accident"
    RECALL = "recall"
    SERIOUS_ILLEGAL_LISTED = "serious_illegal_listed"
    SERIOUS_ILLEGAL_REMOVED = "serious_illegal_removed"
    ABNORMAL_OPERATION_LISTED = "abnormal_operation_listed"
    ABNORMAL_OPERATION_REMOVED = "abnormal_operation_removed"
    LICENCE_SUSPENDED = "licence_suspended"
    LICENCE_REVOKED = "licence_revoked"
    LICENCE_CANCELLED = "licence_cancelled"
    LICENCE_EXPIRED = "licence_expired"
    LICENCE_RESTORED = "licence_restored"
    CCC_SUSPENDED = "ccc_suspended"
    CCC_WITHDRAWN = "ccc_withdrawn"
    CCC_CANCELLED = "ccc_cancelled"
    CCC_EXPIRED = "ccc_expired"
    CCC_RESTORED = "ccc_restored"
    SPOT_CHECK_OVERTURNED = "spot_check_overturned"  # 复检合格, 异议成立, 撤销不合格结论


class CorrectionHow(StrEnum):
    """How a bulletin corrects an earlier failure."""

    RECHECK_PASSED = "recheck_passed"  # 复检结论：合格
    OBJECTION_UPHELD = "objection_upheld"  # 异议成立
    CONCLUSION_REVOKED = "conclusion_revoked"  # 撤销不合格检验结论


class Correction(BaseModel):
    """What a correcting signal says about the earlier one: how, which bulletin, and the words printed."""

    model_config = ConfigDict(frozen=True)

    how: CorrectionHow
    corrects_bulletin_no: str | None = Field(default=None, description="the bulletin it corrects, if printed")
    evidence: str = Field(max_length=2000, description="the cells that say so: 复检结论 合格, 复检机构, …")


class SignalV3(SignalV2):
    """Signal v3: the kinds that correct an earlier signal, with what corrects it. Ingest publishes only those
    on v3 (every other signal stays on v2, which has no such kind); rules reads both."""

    kind: SignalKindV3  # type: ignore[assignment]
    correction: Correction | None = None


class SignalReceivedV3(SignalV3):
    """A new signal was accepted by ingest: v3, a correction of an earlier one."""


# Kinds a v2 consumer cannot read: ingest publishes these on v3. Typed to be asked of a v2 signal's kind too.
V3_ONLY_KINDS: frozenset[SignalKind | SignalKindV3] = frozenset({SignalKindV3.SPOT_CHECK_OVERTURNED})


class FeedRunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"  # some rows rejected
    FAILED = "failed"  # a file-level problem: nothing from the file was published
    NOT_MODIFIED = "not_modified"


class FeedRunCompleted(BaseModel):
    """A feed run ended; the counts say what it did."""

    model_config = ConfigDict(frozen=True)

    run_id: uuid.UUID
    feed: str
    kind: str
    status: FeedRunStatus
    started_at: datetime
    finished_at: datetime
    read: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    published: int = 0
    error: str | None = None
