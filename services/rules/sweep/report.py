"""The campaign report (DOMAIN.md §6.1): scope and coverage, hits by signal kind and how they were matched,
actions taken by measure, the case list of major problems and suspected violations, timeliness, and a
certificate-level annex; as JSON for the API and as an XLSX workbook with zh-CN labels."""

from __future__ import annotations

import io
import statistics
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy.ext.asyncio import AsyncSession

from services.rules.ruleset.rules import BASELINE
from services.rules.ruleset.weighting import MAJOR_PROBLEM, SUSPECTED_VIOLATION
from services.rules.sweep import repository
from services.rules.sweep.labels import (
    BAND,
    CATEGORY,
    CERTIFICATE_STATUS,
    EVENT_STATUS,
    MATCH_DECISION,
    MATCHED_BY,
    MEASURE,
    SEVERITY,
    SIGNAL_KIND,
    SWEEP_STATUS,
    label,
    listing_label,
    matched_by,
)
from services.rules.sweep.models import Sweep
from shared.contracts.ingest import SignalKind

LOCAL = ZoneInfo("Asia/Shanghai")
LIMITS = {rule.id: rule.decision_days for rule in BASELINE}  # the statutory clock of each rule, in days
CASE_SEVERITIES = ("critical", "high", "medium")


def local_day(moment: datetime | None) -> date | None:
    return moment.astimezone(LOCAL).date() if moment else None


def category(kind: str) -> str | None:
    signal_kind = SignalKind(kind)
    if signal_kind in MAJOR_PROBLEM:
        return "major_problem"
    return "suspected_violation" if signal_kind in SUSPECTED_VIOLATION else None


@dataclass(frozen=True)
class Decided:
    measure: str
    on: date
    certificates: int


async def build(session: AsyncSession, sweep: Sweep, limit: int | None = None) -> dict[str, Any]:
    """The report's sections; `limit` caps the case list and the annex (the API's JSON), None for all."""
    hits = await repository.hit_events(session, sweep.id)
    audit = await repository.audit_of_events(session, sweep.id, ("decided", "match_rejected"))
    annex = await repository.certificates_hit_annex(session, sweep.id)
    decided: dict[uuid.UUID, list[Decided]] = defaultdict(list)
    rejected: set[uuid.UUID] = set()
    for event_id, action, detail, at in audit:
        if action == "match_rejected":
            rejected.add(event_id)
        else:
            certificates = len(detail.get("certificates") or [])
            decided[event_id].append(Decided(str(detail.get("measure")), local_day(at) or date.min, certificates))
    by_org_certificates: dict[uuid.UUID, list[str]] = defaultdict(list)
    for row in annex:
        by_org_certificates[row.organisation_id].append(row.number)
    cases = _cases(hits, decided, by_org_certificates)
    annex_rows = _annex(annex, hits, decided)
    return {
        "sweep": _sweep(sweep),
        "scope": _scope(sweep),
        "hits": _hits(hits, annex),
        "actions": _actions(hits, decided, rejected),
        "cases": {"total": len(cases), "rows": cases[:limit] if limit is not None else cases},
        "timeliness": _timeliness(hits, decided),
        "annex": {"total": len(annex_rows), "rows": annex_rows[:limit] if limit is not None else annex_rows},
    }


def _sweep(sweep: Sweep) -> dict[str, Any]:
    return {
        "id": str(sweep.id),
        "status": sweep.status,
        "status_label": label(SWEEP_STATUS, sweep.status),
        "as_of": sweep.as_of.isoformat(),
        "window": sweep.window,
        "since": sweep.since.isoformat(),
        "ruleset_version": sweep.ruleset_version,
        "requested_by": sweep.requested_by,
        "started_at": sweep.started_at and sweep.started_at.astimezone(LOCAL).isoformat(timespec="seconds"),
        "finished_at": sweep.finished_at and sweep.finished_at.astimezone(LOCAL).isoformat(timespec="seconds"),
        "seconds": sweep.seconds,
        "organisations": sweep.organisations,
        "certificates": sweep.certificates,
        "signals": sweep.signals,
        "signals_read": sweep.signals_read,
        "hits": sweep.hits,
        "organisations_hit": sweep.organisations_hit,
        "events_raised": sweep.events_raised,
    }


def _scope(sweep: Sweep) -> dict[str, Any]:
    coverage: dict[str, Any] = dict(sweep.coverage or {})
    by_type: dict[str, dict[str, Any]] = {}
    for row in coverage.get("by_certificate_type", []):
        entry = by_type.setdefault(row["type"], {"type": row["type"], "certificates": 0, "by_status": {}})
        entry["certificates"] += row["certificates"]
        entry["by_status"][label(CERTIFICATE_STATUS, row["status"])] = row["certificates"]
    sources = [
        {**s, "kinds_label": "、".join(label(SIGNAL_KIND, k) for k in s.get("kinds", []))}
        for s in coverage.get("sources", [])
    ]
    return {
        "window": {"since": sweep.since.isoformat(), "as_of": sweep.as_of.isoformat(), "length": sweep.window},
        "organisations": coverage.get("organisations", sweep.organisations),
        "certificates": coverage.get("certificates", sweep.certificates),
        "by_certificate_type": list(by_type.values()),
        "by_province": coverage.get("by_province", []),
        "sources": sources,
    }


def _hits(hits: list[Any], annex: list[Any]) -> list[dict[str, Any]]:
    certificates = Counter({row.organisation_id: 0 for row in annex})
    for row in annex:
        certificates[row.organisation_id] += 1
    kinds: dict[str, dict[str, Any]] = {}
    for row in hits:
        hit = row[0]
        entry = kinds.setdefault(
            hit.signal_kind,
            {
                "kind": hit.signal_kind,
                "label": label(SIGNAL_KIND, hit.signal_kind),
                "signals": set(),
                "organisations": set(),
                "hits": 0,
                "by_method": Counter(),
                "by_decision": Counter(),
            },
        )
        entry["signals"].add(hit.signal_id)
        entry["organisations"].add(hit.organisation_id)
        entry["hits"] += 1
        entry["by_method"][matched_by(hit.match_method)] += 1
        entry["by_decision"][hit.match_decision] += 1
    out = []
    for kind in sorted(kinds, key=lambda k: -kinds[k]["hits"]):
        entry = kinds[kind]
        out.append(
            {
                "kind": kind,
                "label": entry["label"],
                "signals": len(entry["signals"]),
                "organisations": len(entry["organisations"]),
                "certificates": sum(certificates[o] for o in entry["organisations"]),
                "hits": entry["hits"],
                "by_code": entry["by_method"]["code"],
                "by_name": entry["by_method"]["name"],
                "by_verdict": entry["by_method"]["verdict"],
                "by_certificate_no": entry["by_method"]["certificate"],
                "automatic": entry["by_decision"]["match"],
                "for_review": entry["by_decision"]["review"],
            }
        )
    return out


def _actions(hits: list[Any], decided: dict[uuid.UUID, list[Decided]], rejected: set[uuid.UUID]) -> dict[str, Any]:
    events = {row[0].event_id: row.status for row in hits if row[0].event_id is not None and row.status}
    measures: dict[str, dict[str, int]] = {}
    for event_id in events:
        for d in decided.get(event_id, []):
            entry = measures.setdefault(d.measure, {"decisions": 0, "certificates": 0})
            entry["decisions"] += 1
            entry["certificates"] += d.certificates
    statuses = Counter(events.values())
    return {
        "by_measure": [
            {"measure": m, "label": label(MEASURE, m), **v}
            for m, v in sorted(measures.items(), key=lambda i: -i[1]["decisions"])
        ],
        "by_status": [{"status": s, "label": label(EVENT_STATUS, s), "events": n} for s, n in statuses.most_common()],
        "events": len(events),
        "cleared_false_positives": len(rejected & events.keys()),
        "still_open": statuses["open"] + statuses["in_review"],
        "hits_without_event": sum(1 for row in hits if row[0].event_id is None or not row.status),
    }


def _cases(
    hits: list[Any], decided: dict[uuid.UUID, list[Decided]], certificates: dict[uuid.UUID, list[str]]
) -> list[dict[str, Any]]:
    cases = []
    for row in hits:
        hit = row[0]
        kind = category(hit.signal_kind)
        if kind is None or hit.severity not in CASE_SEVERITIES:
            continue
        decisions = decided.get(hit.event_id, []) if hit.event_id else []
        first = decisions[0] if decisions else None
        cases.append(
            {
                "category": kind,
                "category_label": CATEGORY[kind],
                "rank": row.rank,
                "score": row.score,
                "organisation_id": str(hit.organisation_id),
                "organisation": row.name,
                "credit_code": row.credit_code,
                "province": row.province,
                "certificates": certificates.get(hit.organisation_id, []),
                "signal_id": str(hit.signal_id),
                "signal_kind": hit.signal_kind,
                "signal_label": label(SIGNAL_KIND, hit.signal_kind),
                "signal_on": hit.signal_on and hit.signal_on.isoformat(),
                "subject": hit.subject_name,
                "party_role": hit.party_role,
                "product": hit.product,
                "bulletin_no": hit.bulletin_no,
                "certificate_no": hit.certificate_no,
                "evidence": row.summary or "",
                "matched_by": label(MATCHED_BY, matched_by(hit.match_method)),
                "match": f"{label(MATCH_DECISION, hit.match_decision)} {hit.match_score:.2f}",
                "severity": hit.severity,
                "severity_label": label(SEVERITY, hit.severity),
                "recommended_measure": label(MEASURE, hit.recommended_measure),
                "event_id": hit.event_id and str(hit.event_id),
                "event_status": label(EVENT_STATUS, row.status),
                "raised_on": local_day(row.created_at) and local_day(row.created_at).isoformat(),  # type: ignore[union-attr]
                "decision_due": row.decision_due and row.decision_due.isoformat(),
                "measure": first and label(MEASURE, first.measure),
                "decided_on": first and first.on.isoformat(),
                "measures": "、".join(label(MEASURE, d.measure) for d in decisions),
            }
        )
    return cases


def _timeliness(hits: list[Any], decided: dict[uuid.UUID, list[Decided]]) -> dict[str, Any]:
    to_decision: list[int] = []
    to_event: list[int] = []
    within, over, open_past_due = 0, 0, 0
    today = datetime.now(LOCAL).date()
    seen: set[uuid.UUID] = set()
    for row in hits:
        hit = row[0]
        if hit.event_id is None or hit.event_id in seen or not row.status:
            continue
        seen.add(hit.event_id)
        raised = local_day(row.created_at)
        if hit.signal_on and raised:
            to_event.append((raised - hit.signal_on).days)
        first = decided.get(hit.event_id, [None])[0]
        if first is not None and hit.signal_on:
            days = (first.on - hit.signal_on).days
            to_decision.append(days)
            if days <= LIMITS.get(hit.rule_id or "", 30):
                within += 1
            else:
                over += 1
        elif first is None and row.decision_due and row.decision_due < today and row.status in ("open", "in_review"):
            open_past_due += 1
    return {
        "decided": len(to_decision),
        "median_days_to_decision": statistics.median(to_decision) if to_decision else None,
        "max_days_to_decision": max(to_decision, default=None),
        "within_limit": within,
        "over_limit": over,
        "limits": "5 日（暂停、撤销：认证机构管理办法第二十一条）；30 日（专项审核：CNCA-QMS-01:2025 §5.9.3）",
        "median_days_to_event": statistics.median(to_event) if to_event else None,
        "max_days_to_event": max(to_event, default=None),
        "open_past_due": open_past_due,
    }


def _annex(annex: list[Any], hits: list[Any], decided: dict[uuid.UUID, list[Decided]]) -> list[dict[str, Any]]:
    per_org: dict[uuid.UUID, dict[str, Any]] = {}
    order = {"critical": 3, "high": 2, "medium": 1, "low": 0}
    for row in hits:
        hit = row[0]
        entry = per_org.setdefault(hit.organisation_id, {"hits": 0, "worst": None, "kinds": set(), "measures": set()})
        entry["hits"] += 1
        entry["kinds"].add(label(SIGNAL_KIND, hit.signal_kind))
        if hit.severity and (entry["worst"] is None or order[hit.severity] > order[entry["worst"]]):
            entry["worst"] = hit.severity
        for d in decided.get(hit.event_id, []) if hit.event_id else []:
            entry["measures"].add(label(MEASURE, d.measure))
    rows = []
    for row in annex:
        entry = per_org.get(row.organisation_id, {"hits": 0, "worst": None, "kinds": set(), "measures": set()})
        rows.append(
            {
                "certificate_no": row.number,
                "type": row.type,
                "status": label(CERTIFICATE_STATUS, row.status),
                "scope": row.scope,
                "expires_on": row.expires_on and row.expires_on.isoformat(),
                "organisation": row.name,
                "credit_code": row.credit_code,
                "province": row.province,
                "rank": row.rank,
                "score": row.score,
                "band": label(BAND, row.band) if row.band else "",
                "hits": entry["hits"],
                "worst_severity": label(SEVERITY, entry["worst"]),
                "signal_kinds": "、".join(sorted(entry["kinds"])),
                "measures": "、".join(sorted(entry["measures"])),
            }
        )
    return rows


# --- the workbook ------------------------------------------------------------------------------------------

SHEETS = (
    "一、排查范围与覆盖",
    "二、命中情况",
    "三、采取措施",
    "四、案件清单",
    "五、及时性",
    "六、证书明细（附件）",
    "风险排名",
)


def workbook(report: dict[str, Any], ranking: list[dict[str, Any]]) -> bytes:
    """The report as XLSX (write-only: an annex of a hundred thousand rows streams to the file)."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)

    def sheet(title: str) -> Any:
        return book.create_sheet(title)

    def header(ws: Any, *cells: str) -> None:
        ws.append([_bold(ws, c, bold) for c in cells])

    s, scope = report["sweep"], report["scope"]
    ws = sheet(SHEETS[0])
    header(ws, "项目", "内容")
    for key, value in (
        ("排查编号", s["id"]),
        ("截至日期", s["as_of"]),
        ("排查窗口", f"{scope['window']['since']} 至 {s['as_of']}（{s['window']}）"),
        ("规则集版本", s["ruleset_version"]),
        ("状态", s["status_label"]),
        ("开始时间", s["started_at"]),
        ("结束时间", s["finished_at"]),
        ("用时（秒）", s["seconds"]),
        ("排查获证组织数", scope["organisations"]),
        ("排查证书数", scope["certificates"]),
        ("排查信号数", s["signals"]),
        ("命中组织数", s["organisations_hit"]),
        ("本次新提出风险事件", s["events_raised"]),
    ):
        ws.append([key, value])
    ws.append([])
    header(ws, "证书类型", "证书数", "其中按状态")
    for t in scope["by_certificate_type"]:
        ws.append([t["type"], t["certificates"], "；".join(f"{k} {v}" for k, v in t["by_status"].items())])
    ws.append([])
    header(ws, "省份", "获证组织数", "证书数")
    for p in scope["by_province"]:
        ws.append([p["province"] or "未注明", p["organisations"], p["certificates"]])
    ws.append([])
    header(ws, "数据来源", "信号类别", "信号数", "最早信号日期", "最近信号日期", "最近一次获取（快照）")
    for src in scope["sources"]:
        snapshot = src.get("snapshot_at")
        ws.append(
            [
                src["feed"],
                src["kinds_label"],
                src["signals"],
                src["first_on"],
                src["last_on"],
                _local(snapshot) if snapshot else "—",
            ]
        )

    ws = sheet(SHEETS[1])
    header(
        ws,
        "信号类别",
        "信号数",
        "涉及组织数",
        "涉及证书数",
        "命中数",
        "按统一社会信用代码",
        "按企业名称",
        "人工确认",
        "按证书编号",
        "自动匹配",
        "待人工确认",
    )
    for h in report["hits"]:
        ws.append(
            [
                h["label"],
                h["signals"],
                h["organisations"],
                h["certificates"],
                h["hits"],
                h["by_code"],
                h["by_name"],
                h["by_verdict"],
                h["by_certificate_no"],
                h["automatic"],
                h["for_review"],
            ]
        )

    ws = sheet(SHEETS[2])
    a = report["actions"]
    header(ws, "措施", "决定数", "涉及证书数")
    for m in a["by_measure"]:
        ws.append([m["label"], m["decisions"], m["certificates"]])
    ws.append([])
    header(ws, "风险事件状态", "事件数")
    for st in a["by_status"]:
        ws.append([st["label"], st["events"]])
    ws.append([])
    ws.append(["核查后排除（误匹配）", a["cleared_false_positives"]])
    ws.append(["尚未处理完毕", a["still_open"]])
    ws.append(["未提出风险事件的命中（无适用规则或按证书编号发现）", a["hits_without_event"]])

    ws = sheet(SHEETS[3])
    columns: tuple[tuple[str, str], ...] = (
        ("类别", "category_label"),
        ("风险排名", "rank"),
        ("风险分", "score"),
        ("获证组织", "organisation"),
        ("统一社会信用代码", "credit_code"),
        ("省份", "province"),
        ("证书编号", "certificates"),
        ("信号", "signal_label"),
        ("信号日期", "signal_on"),
        ("信号所列名称", "subject"),
        ("角色", "party_role"),
        ("产品", "product"),
        ("公告号", "bulletin_no"),
        ("匹配方式", "matched_by"),
        ("匹配", "match"),
        ("证据", "evidence"),
        ("严重程度", "severity_label"),
        ("建议措施", "recommended_measure"),
        ("事件状态", "event_status"),
        ("提出日期", "raised_on"),
        ("决定期限", "decision_due"),
        ("已采取措施", "measures"),
        ("决定日期", "decided_on"),
    )
    header(ws, *(c for c, _ in columns))
    for case in report["cases"]["rows"]:
        ws.append([_cell(case[key]) for _, key in columns])

    ws = sheet(SHEETS[4])
    t = report["timeliness"]
    header(ws, "指标", "数值")
    for key, value in (
        ("已决定的风险事件", t["decided"]),
        ("从信号公布到决定：中位数（天）", t["median_days_to_decision"]),
        ("从信号公布到决定：最长（天）", t["max_days_to_decision"]),
        ("在期限内决定", t["within_limit"]),
        ("超过期限决定", t["over_limit"]),
        ("期限", t["limits"]),
        ("从信号公布到提出风险事件：中位数（天）", t["median_days_to_event"]),
        ("从信号公布到提出风险事件：最长（天）", t["max_days_to_event"]),
        ("已过决定期限仍未决定", t["open_past_due"]),
    ):
        ws.append([key, "—" if value is None else value])

    ws = sheet(SHEETS[5])
    columns = (
        ("证书编号", "certificate_no"),
        ("证书类型", "type"),
        ("证书状态", "status"),
        ("认证范围", "scope"),
        ("有效期至", "expires_on"),
        ("获证组织", "organisation"),
        ("统一社会信用代码", "credit_code"),
        ("省份", "province"),
        ("风险排名", "rank"),
        ("风险分", "score"),
        ("风险等级", "band"),
        ("命中数", "hits"),
        ("最高严重程度", "worst_severity"),
        ("信号类别", "signal_kinds"),
        ("已采取措施", "measures"),
    )
    header(ws, *(c for c, _ in columns))
    for row in report["annex"]["rows"]:
        ws.append([_cell(row[key]) for _, key in columns])

    ws = sheet(SHEETS[6])
    header(ws, "排名", "获证组织", "统一社会信用代码", "省份", "风险分", "风险等级", "命中数", "仍在列或失效", "理由")
    for r in ranking:
        in_force = "、".join(listing_label(k) for k in r["in_force"])
        reasons = "\n".join(x["text"] for x in r["reasons"])
        ws.append(
            [
                r["rank"],
                r["organisation"],
                r["credit_code"],
                r["province"],
                r["score"],
                label(BAND, r["band"]),
                r["hits"],
                in_force,
                reasons,
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _bold(ws: Any, value: str, font: Font) -> Any:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=value)
    cell.font = font
    return cell


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return value


def _local(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")
