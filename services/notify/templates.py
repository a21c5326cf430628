"""Jinja2 alert templates: the first rendered line is the subject, the rest the body."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    autoescape=False,  # plain-text mail and SMS, never HTML
)

MEASURE_WORDS = {
    "zh-CN": {
        "no_action": "不采取措施",
        "request_explanation": "要求说明情况",
        "corrective_action": "要求限期整改",
        "special_audit": "实施专项监督审核",
        "suspend": "暂停认证证书",
        "withdraw": "撤销认证证书",
        "restore": "恢复认证证书",
        "close": "关闭风险事件",
    },
    "en": {},
}


STATUS_WORDS = {
    "zh-CN": {"suspended": "暂停", "withdrawn": "撤销", "valid": "恢复有效", "cancelled": "注销", "expired": "过期"},
    "en": {"valid": "restored"},
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def language_of(language: str) -> str:
    """The language a message is written in: the contact's if we write it (zh-CN, en), else Chinese. Every
    part of a message (its template, its measure and status words) asks this, so none is in another language."""
    return language if language in MEASURE_WORDS else "zh-CN"


def render(template: str, language: str, **context: object) -> Rendered:
    """Render `template` in `language` (zh-CN by default, English on request)."""
    language = language_of(language)
    text = _env.get_template(f"{template}.{language}.j2").render(**context).strip()
    subject, _, body = text.partition("\n")
    return Rendered(subject=subject.strip(), body=body.strip() + "\n")


def measure_words(measure: str, language: str) -> str:
    return MEASURE_WORDS[language_of(language)].get(measure, measure.replace("_", " "))


def status_words(status: str, language: str) -> str:
    return STATUS_WORDS[language_of(language)].get(status, status)
