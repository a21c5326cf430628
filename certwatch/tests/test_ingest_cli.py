"""`certwatch ingest file --dry-run`: the JSON summary with skipped_passing, --signals OUT.jsonl and --preview."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from certwatch.cli import app
from services.ingest.feeds import ParsedRecord, parse_file
from services.ingest.tests.unit.test_bulletin_shapes import HEADER, row, write


def run_cli(path: Path, kind: str, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["ingest", "file", "--kind", kind, str(path), "--dry-run", "--json", *extra])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def test_a_file_of_passing_rows_succeeds_with_no_signals(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", [row(product=f"p{i}") for i in range(4)], titles=["食品安全监督抽检合格产品信息"])
    summary = run_cli(path, "food_spot_check")
    assert (summary["status"], summary["read"], summary["accepted"], summary["skipped_passing"]) == (
        "succeeded",
        4,
        0,
        4,
    )


def test_dry_run_writes_every_signal_it_would_publish_and_a_preview(tmp_path: Path) -> None:
    rows = [
        [*row(producer="委托方：浙江甲食品有限公司；受委托方：江苏乙食品有限公司"), "不合格"],
        [*row(product="p"), "合格"],
    ]
    path = write(tmp_path / "b.csv", rows, [*HEADER, "判定"])
    out = tmp_path / "signals.jsonl"
    result = CliRunner().invoke(
        app, ["ingest", "file", "--kind", "food_spot_check", str(path), "--dry-run", "--json", "--signals", str(out), "--preview"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    summary = json.loads(lines[-1])
    assert (summary["accepted"], summary["skipped_passing"], summary["published"]) == (1, 1, 0)
    assert "委托方 浙江甲食品有限公司 | 受委托方 江苏乙食品有限公司" in lines[0] and "passing" in lines[1]
    [published] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    [expected] = [
        i
        for i in parse_file("food_spot_check", path, feed="file.food_spot_check").items()
        if isinstance(i, ParsedRecord)
    ]
    assert published == expected.signal.model_dump(mode="json")  # exactly the payload the relay publishes
    assert [p["role_label"] for p in published["parties"]] == ["委托方", "受委托方"]


def test_signals_and_preview_need_a_dry_run(tmp_path: Path) -> None:
    path = write(tmp_path / "b.csv", [row()])
    result = CliRunner().invoke(app, ["ingest", "file", "--kind", "food_spot_check", str(path), "--preview"])
    assert result.exit_code != 0 and "--dry-run" in result.output
