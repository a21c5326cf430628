"""Benchmark: what each bad upload costs ingest (issue 12 item 8): time and peak memory.

Each file is parsed in a fresh process, exactly as ingest parses an upload (`parse_file` with the
default limits, every item read, as the feed runner reads them), so the peak RSS of that process, less
its RSS once the code is imported, is what the file costs the service. The files: a bulletin followed by
200,000 empty rows (formatted cells, as a spreadsheet program leaves them, or empty strings, as a script
writes them), a 10 MB cell in CSV and in XLSX, a zip bomb (600 MB inflated), Excel's UTF-16 text, GBK
text, a truncated XLSX and undecodable bytes.

    .venv/bin/python bench/bad_uploads.py [--rows 200000] [--code DIR]

`--code DIR` parses with the code in DIR instead (a checkout of an older commit: the before figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, re, sys, time
from pathlib import Path
from services.ingest.feeds import parse_file
def hwm():  # this process's peak RSS (VmHWM: ru_maxrss would count the parent's, inherited at fork)
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024
baseline = hwm()
started = time.perf_counter()
outcome = {}
try:
    items = rejected = 0
    reasons = set()
    for item in parse_file("spot_check", Path(sys.argv[1]), feed="bench").items():
        items += 1
        if hasattr(item, "reason"):
            rejected += 1
            reasons.add(item.reason.split(": ", 1)[-1][:70])
    outcome = {"answer": f"{items} rows read, {rejected} rejected", "why": sorted(reasons)}
except Exception as exc:
    outcome = {"answer": "file refused", "why": [f"{type(exc).__name__}: {str(exc)[:110]}"]}
outcome.update(seconds=time.perf_counter() - started, baseline_mb=baseline, peak_mb=hwm())
print(json.dumps(outcome, ensure_ascii=False))
"""


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    from certwatch.demo import bulletins as synthetic

    table: list[list[object]] = [list(synthetic.SPOT_HEADER), *synthetic.spot_rows()]
    gbk = folder / "gbk.csv"
    gbk.write_bytes("\n".join(",".join(str(c) for c in r) for r in table).replace("²", "2").encode("gbk"))
    undecodable = synthetic.write_wrong_encoding(folder / "undecodable.csv")
    return {
        f"{rows:,} empty rows, formatted cells (XLSX)": synthetic.write_empty_rows_xlsx(folder / "tail.xlsx", rows),
        f"{rows:,} empty rows, empty strings (XLSX)": synthetic.write_empty_rows_xlsx(
            folder / "tail-strings.xlsx", rows, styled=False
        ),
        "a 10 MB cell (CSV)": synthetic.write_huge_cell_csv(folder / "cell.csv"),
        "a 10 MB cell (XLSX)": synthetic.write_huge_cell_xlsx(folder / "cell.xlsx"),
        "a zip bomb, 600 MB inflated (XLSX)": synthetic.write_zip_bomb(folder / "bomb.xlsx"),
        "Excel's UTF-16 text": synthetic.write_utf16_text(folder / "unicode.txt"),
        "GBK text": gbk,
        "a truncated XLSX": synthetic.write_truncated_xlsx(folder / "truncated.xlsx"),
        "undecodable bytes": undecodable,
    }


@dataclass
class Cost:
    answer: str
    why: list[str]
    seconds: float = 0.0
    baseline_mb: float = 0.0
    peak_mb: float = 0.0


def measure(path: Path, code: Path) -> Cost:
    env = {**os.environ, "PYTHONPATH": str(code), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], cwd=code, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        return Cost("the process died", done.stderr.strip().splitlines()[-1:])
    return Cost(**json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="empty rows after the bulletin")
    parser.add_argument("--code", type=Path, default=ROOT, help="parse with the code in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bad-uploads-") as tmp:
        files = write_files(Path(tmp), args.rows)
        print(f"code: {args.code}; each file parsed in a fresh process (peak RSS less RSS once imported)\n")
        print(f"{'file':44} {'size':>9} {'time':>7} {'peak RSS':>9} {'file cost':>9}  answer")
        for name, path in files.items():
            got = measure(path, args.code)
            size, cost = path.stat().st_size / 1e6, got.peak_mb - got.baseline_mb
            print(
                f"{name:44} {size:>7.1f}MB {got.seconds:>6.1f}s {got.peak_mb:>7.0f}MB {cost:>7.0f}MB  "
                f"{got.answer}: {'; '.join(got.why)[:150]}"
            )


if __name__ == "__main__":
    main()
