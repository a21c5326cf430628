"""Settings of the notify service (prefix CERTWATCH_NOTIFY_)."""

import os
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from services.notify.quiet import QuietHours
from shared.auth import AuthSettings
from shared.settings import ServiceSettings, data_dir, service_config

DEVELOPMENT_LINK_KEY = "certwatch-development-only-link-key"  # refused outside development


class NotifySettings(AuthSettings, ServiceSettings):
    """Tokens and roles: `AuthSettings` (CERTWATCH_AUTH_*, the same for every service)."""

    service: ClassVar[str] = "notify"
    model_config = service_config("notify")

    port: int = 8103
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = False
    smtp_start_tls: bool = False
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "certwatch@certification-body.example"
    sms_gateway_url: str | None = None
    sms_api_key: SecretStr | None = None
    send_attempts: int = Field(default=3, ge=1, description="tries per message, the first included")
    send_backoff_seconds: float = Field(default=0.5, ge=0, description="first wait between tries; doubles")
    send_concurrency: int = Field(default=8, ge=1, description="messages the sender has in flight at once")
    smtp_pool_size: int = Field(default=4, ge=1, description="SMTP connections kept open and reused")
    sms_concurrency: int = Field(
        default=16,
        ge=1,
        description="texts the sender has in flight at once (apart from emails), one kept-alive HTTP connection each",
    )
    mark_batch_rows: int = Field(
        default=100, ge=1, description="outcomes marked (with their events) by one statement at most"
    )
    mark_linger_seconds: float = Field(
        default=0.05,
        ge=0,
        description="how long an outcome may wait for others to be marked with it, at most "
        "(the sent-but-not-marked window, while messages are in flight; an idle sender marks at once)",
    )
    send_lease_seconds: float = Field(
        default=120.0, gt=0, description="a claimed message nobody marked in this long is sent again (a crash)"
    )
    deliver_poll_seconds: float = Field(
        default=1.0, gt=0, description="how often the sender looks for due messages (commits wake it at once)"
    )
    contact_desk: str = "认证监督部（certification surveillance desk），电话 400-000-0000"
    sms_quiet_hours: str | None = Field(
        default=None, description="HH:MM-HH:MM in `timezone`, e.g. 21:00-08:00: texts wait until they end"
    )
    timezone: str = "Asia/Shanghai"

    digest_recipients: str = Field(
        default="", description="reviewers' addresses, comma-separated: each gets the daily digest of open events"
    )
    digest_at: str = Field(default="08:30", pattern=r"^\d{2}:\d{2}$", description="HH:MM in `timezone`")
    digest_language: str = "zh-CN"

    # The organisation's page (services/notify/organisations, issue 15 §1).
    page_url: str = Field(
        default="http://127.0.0.1:8103", description="where organisations reach notify: the links' base URL"
    )
    link_secret: SecretStr | None = Field(
        default=None,
        description="the key that signs the organisations' links (a secret: never in the repo); a development "
        "default only with CERTWATCH_ENVIRONMENT=development",
    )
    link_lifetime_days: int = Field(default=90, ge=1, le=400, description="how long a link opens its page")
    evidence_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="per uploaded file")
    evidence_store: Literal["local", "s3"] = Field(
        default="local", description="local: a folder (evidence_dir); s3: a bucket on an S3-compatible server"
    )
    evidence_dir: Path = Field(default_factory=lambda: data_dir() / "evidence")
    evidence_s3_endpoint_url: str | None = Field(
        default=None, description="the S3-compatible server, e.g. https://minio.internal:9000; unset: AWS S3"
    )
    evidence_s3_bucket: str | None = Field(default=None, description="required with evidence_store=s3; not created")
    evidence_s3_region: str = "us-east-1"
    evidence_s3_access_key_id: SecretStr | None = Field(
        default=None, description="with the secret below; both unset: the AWS default chain (e.g. an instance role)"
    )
    evidence_s3_secret_access_key: SecretStr | None = Field(default=None, description="a secret: never in the repo")
    evidence_s3_prefix: str = Field(default="", description="put before every object key, e.g. certwatch/evidence")
    page_requests_per_minute: int = Field(default=30, ge=1, description="per link, every request counted")

    @model_validator(mode="after")
    def _link_key_outside_development(self) -> "NotifySettings":
        self.link_key()  # refuses to start without a key outside development
        if self.evidence_store == "s3":
            if not self.evidence_s3_bucket:
                raise ValueError("CERTWATCH_NOTIFY_EVIDENCE_STORE=s3 needs CERTWATCH_NOTIFY_EVIDENCE_S3_BUCKET")
            if (self.evidence_s3_access_key_id is None) != (self.evidence_s3_secret_access_key is None):
                raise ValueError(
                    "CERTWATCH_NOTIFY_EVIDENCE_S3_ACCESS_KEY_ID and CERTWATCH_NOTIFY_EVIDENCE_S3_SECRET_ACCESS_KEY "
                    "go together: set both, or neither (the AWS default chain)"
                )
        return self

    def link_key(self) -> str:
        if self.link_secret is not None:
            return self.link_secret.get_secret_value()
        environment = os.environ.get("CERTWATCH_ENVIRONMENT", "development")
        if environment != "development":
            raise ValueError(f"CERTWATCH_NOTIFY_LINK_SECRET is required in environment {environment!r}")
        return DEVELOPMENT_LINK_KEY

    @model_validator(mode="after")
    def _quiet_hours_parse(self) -> "NotifySettings":
        self.quiet_hours()  # a bad value fails at start, saying what is wrong
        return self

    def quiet_hours(self) -> QuietHours | None:
        return QuietHours.parse(self.sms_quiet_hours, self.timezone) if self.sms_quiet_hours else None

    def digest_to(self) -> list[str]:
        return [address.strip() for address in self.digest_recipients.split(",") if address.strip()]
