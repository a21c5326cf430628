"""Bad uploads over HTTP (issue 12 item 8): each gets a clear 4xx or a per-row rejection, and the service
answers on. bench/bad_uploads.py measures the memory each costs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from certwatch.demo import bulletins as synthetic
from services.ingest.main import create_app
from tests.support.infra import as_role, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    rows = [synthetic.SPOT_HEADER, *synthetic.spot_rows()]
    gbk = folder / "gbk.csv"
    gbk.write_bytes("\n".join(",".join(str(c) for c in r) for r in rows).replace("²", "2").encode("gbk"))
    return {
        "200,000 empty rows": synthetic.write_empty_rows_xlsx(folder / "tail.xlsx", rows=200_000),
        "a 10 MB cell (CSV)": synthetic.write_huge_cell_csv(folder / "cell.csv"),
        "a 10 MB cell (XLSX)": synthetic.write_huge_cell_xlsx(folder / "cell.xlsx"),
        "a zip bomb": synthetic.write_zip_bomb(folder / "bomb.xlsx"),
        "UTF-16 text": synthetic.write_utf16_text(folder / "unicode.txt"),
        "GBK text": gbk,
    }


async def test_each_bad_upload_gets_a_4xx_or_its_rows_rejected_and_the_service_answers_on(
    bad_files: dict[str, Path], platform, service_settings
) -> None:
    async with running(create_app(service_settings("ingest"), platform), as_role("feed")) as ingest:
        answers = {}
        for number, (name, path) in enumerate(bad_files.items()):
            started = time.perf_counter()
            params = {"kind": "spot_check", "wait": "true", "feed": f"bad-{number}"}  # the same rows, new signals
            response = await ingest.post("/files", params=params, files={"file": (path.name, path.read_bytes())})
            answers[name] = (response.status_code, response.json(), time.perf_counter() - started)
            assert (await ingest.get("/healthz")).status_code == 200, f"down after {name}"

    status, body, seconds = answers["200,000 empty rows"]
    assert status == 200 and (body["read"], body["accepted"]) == (7, 5), body  # the bulletin, not its empty tail
    assert seconds < 30, f"{seconds:.0f} s (it took 47 s before, and 754 MB)"
    for cell in ("a 10 MB cell (CSV)", "a 10 MB cell (XLSX)"):
        status, body, _ = answers[cell]
        reasons = [r["reason"] for r in body["rejections"]]
        assert status == 200 and body["status"] == "partial" and body["accepted"] >= 4, body
        assert any("10,485,760 characters; a cell may hold 32,767 (cell_chars)" in r for r in reasons), reasons
    status, body, _ = answers["a zip bomb"]
    assert status == 422 and "zip bomb" in body["message"] and body["detail"]["run_id"]
    for text in ("UTF-16 text", "GBK text"):
        status, body, _ = answers[text]
        assert status == 200 and body["accepted"] == 5, (text, body)


async def test_an_upload_over_the_size_limit_is_a_413_naming_the_setting(
    bad_files: dict[str, Path], platform, service_settings
) -> None:
    settings = service_settings("ingest", max_upload_bytes=1024 * 1024)
    async with running(create_app(settings, platform), as_role("feed")) as ingest:
        path = bad_files["a 10 MB cell (CSV)"]
        response = await ingest.post(
            "/files", params={"kind": "spot_check"}, files={"file": ("c.csv", path.read_bytes())}
        )
        assert response.status_code == 413 and "the limit is 1048576 (max_upload_bytes)" in response.json()["message"]
