"""The email channel keeps a rendered message's MIME bytes for its next contacts: what goes on the wire must
be, byte for byte, what aiosmtplib's send_message would send for the message composed in full."""

from __future__ import annotations

import uuid
from typing import Any

import aiosmtplib
import pytest
from aiosmtplib.email import flatten_message

from services.notify.channels import EmailChannel
from services.notify.settings import NotifySettings
from services.notify.templates import Rendered

MESSAGE = Rendered(
    "【认证风险提示】浙江宏远电器有限公司：产品监督抽查不合格（输出电压）",
    "浙江宏远电器有限公司：\n\n"
    + "根据市场监管总局2024年第11号通告，贵单位生产的电动自行车用充电器经抽查不合格。\n" * 5,
)


class Wire:
    """Stands in for a connected aiosmtplib.SMTP: records what sendmail would put on the wire."""

    def __init__(self, eightbit: bool) -> None:
        self.eightbit = eightbit
        self.sent: list[tuple[str, list[str], bytes, list[str]]] = []
        self.is_ehlo_or_helo_needed = False

    def supports_extension(self, name: str) -> bool:
        return name.lower() == "smtputf8" or (self.eightbit and name.lower() == "8bitmime")

    async def sendmail(
        self, sender: str, recipients: list[str], data: bytes, mail_options: Any = None, **_: Any
    ) -> None:
        self.sent.append((sender, list(recipients), data, list(mail_options or [])))

    async def send_message(self, message: Any) -> None:
        await aiosmtplib.SMTP.send_message(self, message)  # type: ignore[arg-type]

    async def _ehlo_or_helo_if_needed(self) -> None:  # what send_message calls
        return None


@pytest.mark.parametrize("eightbit", [True, False])
@pytest.mark.parametrize(
    "recipient",
    ["quality+17@hongyuan.example", "a.b-c_d@mail.sub.hongyuan.example", "王经理@hongyuan.example", "x" * 70 + "@e.cn"],
)
async def test_the_kept_bytes_are_what_send_message_sends(recipient: str, eightbit: bool) -> None:
    channel = EmailChannel(NotifySettings(database_url="postgresql+asyncpg://x@localhost/x"))
    key = str(uuid.uuid4())
    fast, full = Wire(eightbit), Wire(eightbit)
    for _ in range(2):  # composed the first time, the kept bytes the second
        assert await channel._send(fast, recipient, MESSAGE, key) == f"<{key}@certification-body.example>"  # type: ignore[arg-type]
    await full.send_message(channel.compose(recipient, MESSAGE, key))
    assert fast.sent[0] == fast.sent[1] == full.sent[0]
    if recipient.isascii():
        cte = "8bit" if eightbit else "7bit"
        assert fast.sent[0][2] == flatten_message(channel.compose(recipient, MESSAGE, key), cte_type=cte)


async def test_each_contact_gets_its_own_headers_from_the_kept_bytes() -> None:
    channel = EmailChannel(NotifySettings(database_url="postgresql+asyncpg://x@localhost/x"))
    wire = Wire(True)
    keys = [str(uuid.uuid4()) for _ in range(3)]
    for n, key in enumerate(keys):
        await channel._send(wire, f"q{n}@hongyuan.example", MESSAGE, key)  # type: ignore[arg-type]
    for n, (key, (_, to, data, _)) in enumerate(zip(keys, wire.sent, strict=True)):
        assert to == [f"q{n}@hongyuan.example"]
        assert f"To: q{n}@hongyuan.example\r\n".encode() in data and data.count(key.encode()) == 2
    assert len(channel._flattened) == 1  # the message was composed once, for all three
