"""An alert as an organisation receives it: its registry imported, a spot-check failure naming it posted to
ingest, and the alert email that arrives in the mail sink (for the organisation page's tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from certwatch.mailsink import read_mail
from tests.e2e.test_one_signal_flow import CODE, registry_csv
from tests.support.infra import bearer
from tests.support.waiting import eventually

SIGNAL = {
    "feed": "samr-national", "kind": "spot_check_failure",
    "subject": {"name": "浙江宏远电器有限公司", "credit_code": CODE},
    "product": {"name": "电动自行车用充电器", "model": "HY-4820A"},
    "detail": {"bulletin_no": "市场监管总局2024年第11号", "failed_items": [{"item": "输出电压"}]},
}  # fmt: skip


async def alert_email(ingest: httpx.AsyncClient, rules: httpx.AsyncClient, maildir: Path, email: str) -> str:
    """The plain-text body of the one alert `email` gets for a spot-check failure of the registered company."""
    feeder = await bearer(rules, "samr-feed", "feed")
    await eventually(lambda: ingest.get("/feeds", headers=feeder), lambda r: r.status_code == 200)
    files = {"file": ("registry.csv", registry_csv(email))}
    assert (await rules.post("/organisations/import?wait=true", files=files)).status_code == 200
    assert (await ingest.post("/signals", json=SIGNAL, headers=feeder)).status_code == 201

    async def mails() -> list[Any]:
        return [m for m in read_mail(maildir) if m["To"] == email]

    return str((await eventually(mails, lambda ms: len(ms) == 1))[0].get_body(("plain",)).get_content())
