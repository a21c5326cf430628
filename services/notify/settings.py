"""Settings of the notify service (prefix CERTWATCH_NOTIFY_)."""

from typing import ClassVar

from pydantic import SecretStr

from shared.settings import ServiceSettings, service_config


class NotifySettings(ServiceSettings):
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
    send_attempts: int = 3
    send_backoff_seconds: float = 0.5
    contact_desk: str = "认证监督部（certification surveillance desk），电话 400-000-0000"
