"""Benchmark: the campaign sweep over a 1,000,000-organisation registry and 2,000,000 stored signals.

Everything runs as it does in production, on a PostgreSQL cluster and a broker of the bench's own (in a
temporary folder, so the local stack's data is left alone): the registry is loaded into rules' tables and
the signals into ingest's (COPY), ingest and rules run as `certwatch serve` processes, rules builds its live
index, and the sweep is started with `POST /sweeps` and followed with `GET /sweeps/{id}` until it ends. The
sweep reads the signals from ingest's API, matches them on the live index, raises the missing risk events
and ranks the organisations. A second sweep shows that nothing is raised twice; the campaign report is
then fetched as XLSX.

Workload: every organisation has a QMS certificate, every fourth a CCC certificate too. `--hit-share` of the
signals name a registered organisation (its name as sources write it: exact, variants, with its code, or
a look-alike that is another company), the rest name enterprises the registry does not hold. Kinds as the
feeds deliver them: spot checks, food sampling, both credit lists (listings and removals), licence and
CCC status, recalls and accidents; dates spread over three years and a bit (a few fall outside the window).

Prints the time of each step, the sweeps' wall time against the 10-minute target, and the peak RSS of
the rules and ingest processes.

    .venv/bin/python bench/bench_sweep.py [--organisations N] [--signals N] [--hit-share F]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from certwatch.demo.evalset import CITIES, INDUSTRIES, TRADE_CHARS, Org, negatives, registry, variants
from certwatch.services import folder_of
from certwatch.stack.broker import BrokerHandle, start_broker
from certwatch.stack.postgres import PgHandle, provision_database, start_postgres
from certwatch.stack.processes import free_port, terminate, wait_for_port
from services.rules.matcher.regions import PROVINCES
from shared.db.migrations import upgrade
from shared.identifiers import make_uscc

TARGET_SECONDS = 600.0
DATABASE = "certwatch_bench_sweep"
BATCH = 20_000
AS_OF = datetime.now(UTC).date()
# 字号 characters no registered organisation uses: the signals about unregistered enterprises.
OTHER_TRADE = "".join(
    c
    for c in dict.fromkeys(
        "甲乙丙丁戊己庚辛壬癸子丑寅卯巳午未申酉戌亥赤橘柚桃李杏枣栗梨柿榴蕉莓葡萄芒柠檬椰榄楠桦枫榕樟柳杨桂桐槐椿"
        "朴杉柘桑琥珀玛瑙翡翠珊瑚钻珍珠贝螺蚌蟹虾鲤鲫鳗鲈鳜鳊鲢鳙鲶鳝蛙蝶蜂蚕燕鹊鸥鹭鹤鹰雁鸽莺鹂雀麒麟狮豹熊鹿羚驼"
    )
    if c not in set(TRADE_CHARS) | set("".join(INDUSTRIES)) | set("".join(CITIES))
)
# (kind, share, feed): what the feeds deliver.
KINDS = (
    ("spot_check_failure", 0.40, "samr-spot-check"),
    ("food_spot_check_failure", 0.20, "samr-food"),
    ("abnormal_operation_listed", 0.15, "gsxt-abnormal"),
    ("abnormal_operation_removed", 0.06, "gsxt-abnormal"),
    ("serious_illegal_listed", 0.04, "gsxt-serious"),
    ("serious_illegal_removed", 0.01, "gsxt-serious"),
    ("licence_revoked", 0.03, "licence-status"),
    ("ccc_suspended", 0.04, "ccc-status"),
    ("ccc_restored", 0.02, "ccc-status"),
    ("recall", 0.04, "recalls"),
    ("quality_accident", 0.01, "accidents"),
)
LISTS = {"abnormal_operation_listed", "abnormal_operation_removed", "serious_illegal_listed", "serious_illegal_removed"}
STATUS = {"licence_revoked", "ccc_suspended", "ccc_restored"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the workload ------------------------------------------------------------------------------------------


def organisation_id(org: Org) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench-sweep/{org.org_id}")


def certificates(i: int, org: Org) -> list[tuple[str, str]]:
    """(number, type): a QMS certificate each, a CCC one for every fourth organisation."""
    own = [(f"Q{i:08d}", "QMS")]
    return [*own, (f"2022{i:012d}", "CCC")] if i % 4 == 0 else own


def registry_rows(orgs: list[Org]) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
    """Batches of organisation rows and certificate rows, as COPY takes them."""
    for start in range(0, len(orgs), BATCH):
        org_rows, cert_rows = [], []
        for i in range(start, min(start + BATCH, len(orgs))):
            org, org_id = orgs[i], organisation_id(orgs[i])
            org_rows.append((org_id, org.org_id, org.name, [org.former] if org.former else [], org.code,
                             f"{org.province}省{org.city}市某某路{i % 999 + 1}号", org.province, org.city, "[]", 1))  # fmt: skip
            for number, kind in certificates(i, org):
                scope = f"{org.industry}产品的生产" if kind == "QMS" else f"{org.industry}产品"
                cert_rows.append((uuid.uuid5(org_id, number), org_id, number, kind, scope, [f"{org.industry}产品"],
                                  "valid", date(2023, 1, 1), date(2029, 1, 1), []))  # fmt: skip
        yield org_rows, cert_rows


def signal_rows(orgs: list[Org], count: int, hit_share: float, seed: int = 7) -> Iterator[list[tuple[Any, ...]]]:
    """Batches of ingest `signals` rows (the payload as ingest stores it: the signal's JSON)."""
    rng = random.Random(seed)
    taken = {(o.trade, o.industry) for o in orgs}
    cores = {t + i for t, i in taken}
    cities = list(CITIES.items())
    kinds = [k for k, _, _ in KINDS]
    weights = [w for _, w, _ in KINDS]
    feeds = {k: f for k, _, f in KINDS}
    received = datetime.now(UTC) - timedelta(days=30)
    batch: list[tuple[Any, ...]] = []
    for n in range(count):
        kind = rng.choices(kinds, weights)[0]
        on = AS_OF - timedelta(days=rng.randrange(0, 3 * 365 + 120))  # ~10 % older than a 3-year window
        subject: dict[str, Any]
        if rng.random() < hit_share:
            i = rng.randrange(len(orgs))
            org = orgs[i]
            looks_alike = list(negatives(org, rng, taken))
            if looks_alike and rng.random() < 0.2:
                name, code = rng.choice(looks_alike)[1], None  # a look-alike: another company
            else:
                _, name, code = rng.choice(list(variants(org, rng, cores)))
                code = code or (org.code if kind in LISTS else None)  # the credit lists carry the code
            number = certificates(i, org)[-1][0] if kind in STATUS else None
            subject = {"name": name, "province": org.province}
        else:
            city, province = rng.choice(cities)
            trade = "".join(rng.sample(OTHER_TRADE, 2 if rng.random() < 0.8 else 3))
            name = f"{city}市{trade}{rng.choice(INDUSTRIES)}有限公司"
            code = make_uscc(f"{PROVINCES[province]}0100", f"PF{n % 1_000_000:06d}") if kind in LISTS else None
            number = f"XK{n:010d}" if kind in STATUS else None
            subject = {"name": name, "province": province}
        if code:
            subject |= {"credit_code": code, "credit_code_status": "valid"}
        payload: dict[str, Any] = {"signal_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                   "feed": feeds[kind], "kind": kind, "subject": subject}  # fmt: skip
        detail: dict[str, Any] = {}
        if kind in LISTS:
            detail["listed_on" if kind.endswith("listed") else "removed_on"] = on.isoformat()
            detail["authority"] = f"{subject.get('province', '')}省市场监督管理局"
        else:
            payload["published_on"] = on.isoformat()
        if kind in STATUS:
            detail |= {"certificate_no": number, "status": "暂停" if "suspended" in kind else "撤销"}
        if kind.endswith("spot_check_failure") or kind in ("recall", "quality_accident"):
            industry = next((i for i in INDUSTRIES if i in name), "电器")
            payload["product"] = {"name": f"{industry}产品", "model": f"M-{n % 997}"}
            detail |= {"bulletin_no": f"{on.year}年第{on.month}期", "level": rng.choice(("national", "provincial"))}
            detail["failed_items"] = [{"item": "标志和说明", "result": "不合格", "standard": "GB 4706.1"}]
        payload["detail"] = detail
        key = code or name
        batch.append((uuid.UUID(payload["signal_id"]), payload["feed"], kind, key[:300],
                      json.dumps(payload, ensure_ascii=False), True, received))  # fmt: skip
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


# --- the infrastructure ------------------------------------------------------------------------------------


class Infra:
    """A private PostgreSQL cluster and broker, the bench database, and the two service processes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pg: PgHandle | None = None
        self.broker: BrokerHandle | None = None
        self.passwords = {s: uuid.uuid4().hex for s in ("ingest", "rules")}
        self.token = uuid.uuid4().hex
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def dsn(self, service: str, driver: str = "+asyncpg") -> str:
        assert self.pg is not None
        password = self.passwords[service]
        return f"postgresql{driver}://certwatch_{service}:{password}@127.0.0.1:{self.pg.port}/{DATABASE}"

    async def start(self) -> None:
        self.pg = start_postgres(self.folder)
        self.broker = start_broker(self.folder)
        roles = {f"certwatch_{s}": p for s, p in self.passwords.items()}
        await provision_database(self.pg.admin_dsn, DATABASE, roles)
        for service in ("ingest", "rules"):
            await asyncio.to_thread(upgrade, folder_of(service), self.dsn(service))

    def serve(self) -> None:
        assert self.broker is not None
        self.ports = {"ingest": free_port(), "rules": free_port()}
        env = {k: v for k, v in os.environ.items() if not k.startswith("CERTWATCH_")} | {
            "CERTWATCH_DATA_DIR": str(self.folder),  # no stack.env: only what is set here
            "CERTWATCH_ENVIRONMENT": "development",
            "CERTWATCH_KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "CERTWATCH_KAFKA_ENABLE_IDEMPOTENCE": "false",
            "CERTWATCH_AUTH_ADMIN_TOKEN": self.token,
            "CERTWATCH_INGEST_DATABASE_URL": self.dsn("ingest"),
            "CERTWATCH_INGEST_PORT": str(self.ports["ingest"]),
            "CERTWATCH_INGEST_SCHEDULER_ENABLED": "false",
            "CERTWATCH_RULES_DATABASE_URL": self.dsn("rules"),
            "CERTWATCH_RULES_PORT": str(self.ports["rules"]),
            "CERTWATCH_RULES_INGEST_URL": f"http://127.0.0.1:{self.ports['ingest']}",
        }
        certwatch = str(Path(sys.executable).parent / "certwatch")
        for service in ("ingest", "rules"):
            out = (self.folder / f"{service}.log").open("ab")
            self.processes[service] = subprocess.Popen(
                [certwatch, "serve", service], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        for service, port in self.ports.items():
            wait_for_port(port, service, self.folder / f"{service}.log", self.processes[service].pid, 120)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def stop(self) -> None:
        for process in self.processes.values():
            terminate(process.pid)
        if self.broker:
            self.broker.stop()
        if self.pg:
            self.pg.stop()


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def cpu_seconds(pid: int, children: bool = False) -> float:
    """CPU time a process used so far (with its waited-for children's, when asked), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu(infra: Infra) -> float:
    """CPU time of the bench's PostgreSQL: the postmaster, its ended children and its running backends."""
    assert infra.pg is not None
    postmaster = int((infra.pg.cluster / "data" / "postmaster.pid").read_text().split()[0])
    total = cpu_seconds(postmaster, children=True)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cpu(infra: Infra) -> dict[str, float]:
    return {"rules": cpu_seconds(infra.processes["rules"].pid), "ingest": cpu_seconds(infra.processes["ingest"].pid),
            "postgres": postgres_cpu(infra)}  # fmt: skip


async def loaded(infra: Infra, organisations: int, signals: int) -> int | None:
    """The certificates of a registry of this size loaded by an earlier run in the same folder (`--folder`),
    with what its sweeps raised cleared; None when the folder holds no such data."""
    rules = await asyncpg.connect(infra.dsn("rules", ""), server_settings={"search_path": "rules"})
    ingest = await asyncpg.connect(infra.dsn("ingest", ""), server_settings={"search_path": "ingest"})
    try:
        if (await rules.fetchval("SELECT count(*) FROM organisations"), await ingest.fetchval(
                "SELECT count(*) FROM signals")) != (organisations, signals):  # fmt: skip
            return None
        await rules.execute("TRUNCATE risk_events, sweeps, outbox CASCADE")
        return int(await rules.fetchval("SELECT count(*) FROM certificates"))
    finally:
        await rules.close()
        await ingest.close()


async def load(infra: Infra, organisations: int, signals: int, hit_share: float) -> tuple[int, float, float]:
    certs = await loaded(infra, organisations, signals)
    if certs is not None:
        log(f"reusing the registry and signals in {infra.folder}")
        return certs, 0.0, 0.0
    started = time.perf_counter()
    orgs = registry(organisations)
    log(f"generated {len(orgs):,} organisations in {time.perf_counter() - started:.0f} s")
    rules = await asyncpg.connect(infra.dsn("rules", ""), server_settings={"search_path": "rules"})
    certs = 0
    try:
        for org_rows, cert_rows in registry_rows(orgs):
            await rules.copy_records_to_table("organisations", records=org_rows, columns=[
                "id", "external_ref", "name", "former_names", "credit_code", "address", "province", "city", "sites",
                "revision"])  # fmt: skip
            await rules.copy_records_to_table("certificates", records=cert_rows, columns=[
                "id", "organisation_id", "number", "type", "scope", "products", "status", "issued_on",
                "expires_on", "sites_covered"])  # fmt: skip
            certs += len(cert_rows)
        await rules.execute("ANALYZE")
    finally:
        await rules.close()
    registry_seconds = time.perf_counter() - started
    log(f"registry loaded: {len(orgs):,} organisations, {certs:,} certificates in {registry_seconds:.0f} s")
    started = time.perf_counter()
    ingest = await asyncpg.connect(infra.dsn("ingest", ""), server_settings={"search_path": "ingest"})
    try:
        for rows in signal_rows(orgs, signals, hit_share):
            await ingest.copy_records_to_table("signals", records=rows, columns=[
                "signal_id", "feed", "kind", "subject_key", "payload", "released", "received_at"])  # fmt: skip
        await ingest.execute("ANALYZE")
    finally:
        await ingest.close()
    signals_seconds = time.perf_counter() - started
    log(f"signals stored: {signals:,} in {signals_seconds:.0f} s")
    return certs, registry_seconds, signals_seconds


def sweep(client: httpx.Client, infra: Infra, label: str) -> dict[str, Any]:
    """Start a sweep, follow it to its end (sampling the rules process's memory), return its record."""
    pid = infra.processes["rules"].pid
    before, used = memory(pid)["VmRSS"], cpu(infra)
    started = time.perf_counter()
    record = client.post("/sweeps", json={"window": "3y"})
    record.raise_for_status()
    sweep_id, shown = record.json()["id"], -1.0
    while True:
        time.sleep(2.0)
        state = client.get(f"/sweeps/{sweep_id}").json()
        if state["progress"] - shown >= 0.1 or state["status"] not in ("queued", "running"):
            shown = state["progress"]
            log(f"{label}: {state['phase']} {state['progress']:.0%}, {state['signals_read']:,} read, "
                f"{state['hits']:,} hits, {state['events_raised']:,} raised")  # fmt: skip
        if state["status"] not in ("queued", "running"):
            break
    wall = time.perf_counter() - started
    if state["status"] != "succeeded":
        raise SystemExit(f"{label} {state['status']}: {state['error']}")
    spent = {name: seconds - used[name] for name, seconds in cpu(infra).items()}
    return {**state, "wall": wall, "rss_before": before, "rules_peak": memory(pid)["VmHWM"],
            "ingest_peak": memory(infra.processes["ingest"].pid)["VmHWM"], "cpu": spent}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--organisations", type=int, default=1_000_000)
    parser.add_argument("--signals", type=int, default=2_000_000)
    parser.add_argument("--hit-share", type=float, default=0.05, help="signals naming a registered organisation")
    parser.add_argument("--no-report", action="store_true", help="skip fetching the XLSX report")
    parser.add_argument("--hold", type=float, default=0, help="keep the services up this many seconds at the end")
    parser.add_argument("--folder", type=Path, help="keep the cluster here, and reuse its data if of the same size")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="certwatch-bench-sweep-"))
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # PostgreSQL runs as an unprivileged user when this runs as root
    infra = Infra(folder)
    try:
        asyncio.run(infra.start())
        certs, registry_seconds, signals_seconds = asyncio.run(
            load(infra, args.organisations, args.signals, args.hit_share)
        )
        infra.serve()
        headers = {"Authorization": f"Bearer {infra.token}"}
        with httpx.Client(base_url=infra.url("rules"), headers=headers, timeout=1800.0) as client:
            started = time.perf_counter()
            client.post("/screening/match", json={"name": "索引预热有限公司"}).raise_for_status()  # waits for the index
            index_seconds = time.perf_counter() - started
            indexed = memory(infra.processes["rules"].pid)["VmRSS"]
            log(f"live index: {args.organisations:,} organisations in {index_seconds:.0f} s, rules at {indexed:.0f} MB")
            first = sweep(client, infra, "first sweep")
            second = sweep(client, infra, "second sweep")
            report = None
            if not args.no_report:
                started = time.perf_counter()
                xlsx = client.get(f"/sweeps/{second['id']}/report", params={"format": "xlsx"})
                xlsx.raise_for_status()
                report = (time.perf_counter() - started, len(xlsx.content))
        _print(args, certs, registry_seconds, signals_seconds, index_seconds, first, second, report)
        for line in (folder / "rules.log").read_text(errors="replace").splitlines():
            if "sweep " in line and " s (" in line:  # where each sweep spent its time, as rules logged it
                print("  rules log:", json.loads(line).get("message", line) if line.startswith("{") else line)
        if args.hold:
            log(f"holding: ingest {infra.url('ingest')}, rules {infra.url('rules')}, token {infra.token}, {folder}")
            time.sleep(args.hold)
    finally:
        infra.stop()
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)


def _print(args: Any, certs: int, reg: float, sig: float, index: float, first: dict[str, Any],
           second: dict[str, Any], report: tuple[float, int] | None) -> None:  # fmt: skip
    def verdict(seconds: float) -> str:
        return "meets" if seconds <= TARGET_SECONDS else "MISSES"

    print()
    print(f"sweep bench: {args.organisations:,} organisations ({certs:,} certificates), {args.signals:,} stored "
          f"signals, {args.hit_share:.0%} naming a registered organisation")  # fmt: skip
    print(f"  load (not timed as the sweep): registry {reg:.0f} s, signals {sig:.0f} s, live index {index:.0f} s")
    for label, s in (("first sweep ", first), ("second sweep", second)):
        rate = s["signals_read"] / s["seconds"] if s["seconds"] else 0
        print(f"  {label}: {s['wall']:.0f} s wall ({s['seconds']:.0f} s recorded; {verdict(s['wall'])} the "
              f"{TARGET_SECONDS / 60:.0f}-minute target), {s['signals_read']:,} signals read ({rate:,.0f}/s), "
              f"{s['signals']:,} screened, {s['hits']:,} hits on {s['organisations_hit']:,} organisations, "
              f"{s['events_raised']:,} risk events raised")  # fmt: skip
        print(f"      peak RSS: rules {s['rules_peak']:,.0f} MB (before the sweep {s['rss_before']:,.0f} MB), "
              f"ingest {s['ingest_peak']:,.0f} MB")  # fmt: skip
        print(
            "      CPU used meanwhile: "
            + ", ".join(f"{k} {v:.0f} s" for k, v in s["cpu"].items())
            + f"; the machine's load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
    if report:
        print(f"  campaign report (XLSX, every case and certificate): {report[0]:.0f} s, {report[1] / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
