"""The dashboard: server-rendered pages (HTML with inline SVG charts, no scripts) in zh-CN or English.

The main page reads only the daily aggregate (`daily_tallies`, kept by the consumer) and indexed counts, so it
stays fast with millions of risk events; the drill-down pages (the filtered list, an event, an organisation)
read the events on their indexes, a page at a time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import repository
from services.reporting.models import ClockView, RiskEventView
from services.reporting.service import LOCAL, SELF_REPORT, local_day
from shared.contracts.ingest import FeedRunStatus, SignalKind
from shared.contracts.notify import Channel
from shared.contracts.rules import CertificateStatus, ClockKind, ClockState, Measure, RiskEventStatus, Severity
from shared.errors import NotFound
from shared.labels import DEFAULT_LANGUAGE, LANGUAGES, label

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)

# The page's own words (the stored values' words are in shared/labels.py): key -> (zh-CN, en).
WORDS: dict[str, tuple[str, str]] = {
    "title": ("certwatch 合规监测看板", "certwatch — compliance dashboard"),
    "period": ("统计期间", "Period"),
    "from": ("从", "From"),
    "to": ("至", "to"),
    "show": ("查看", "Show"),
    "report": ("监管报告", "Regulator's report"),
    "raised": ("新增风险事件", "Risk events raised"),
    "decided": ("已作出决定", "Decisions taken"),
    "suspended": ("暂停证书", "Certificates suspended"),
    "withdrawn": ("撤销证书", "Certificates withdrawn"),
    "overdue": ("逾期未处理", "Open past their deadline"),
    "screened": ("已排查组织", "Organisations screened"),
    "self_reported": ("自查自纠上报", "Self-reported"),
    "trends": ("趋势（近12个月）", "Trends (the last 12 months)"),
    "weekly": ("每周风险事件（按信号类型）", "Risk events per week, by signal kind"),
    "backlog": ("待处理与逾期风险事件（每周末）", "Open events and events past their deadline (each week's end)"),
    "median": ("从信号发布到作出决定的天数中位数（按月）", "Median days from signal to decision (per month)"),
    "open_events": ("待处理", "open"),
    "overdue_events": ("已逾期", "past their deadline"),
    "median_days": ("天数中位数", "median days"),
    "decisions_n": ("决定数", "decisions"),
    "week": ("周（起始日）", "week (starting)"),
    "month": ("月份", "month"),
    "events_n": ("风险事件数", "risk events"),
    "days": ("天", "days"),
    "table": ("查看数据表", "Show the table"),
    "total": ("合计", "total"),
    "by_kind": ("风险事件（按信号类型）", "Risk events by signal kind"),
    "by_severity": ("风险事件（按严重程度）", "Risk events by severity"),
    "by_province": ("风险事件（按省份）", "Risk events by province"),
    "by_certificate_type": ("风险事件（按证书类型）", "Risk events by certificate type"),
    "by_measure": ("决定（按措施）", "Decisions by measure"),
    "nothing": ("本期间无数据。", "Nothing in this period."),
    "deadlines": ("法定时限", "Statutory deadlines"),
    "deadlines_note": (
        "本期间到期的时限：按期完成、逾期（或到期仍在计时），以及从信号发布到结束时限之间的天数。",
        "Deadlines that fell due in the period, per clock: met, missed (or still running past their date), and "
        "the days from the signal's publication to the act that ended the clock.",
    ),
    "clock": ("时限", "clock"),
    "basis": ("法律依据", "legal basis"),
    "due": ("到期", "due"),
    "max_days": ("最长天数", "max days"),
    "none_due": ("本期间没有到期的时限。", "No deadline fell due in this period."),
    "feeds": ("数据源", "Feeds"),
    "feed": ("数据源", "feed"),
    "last_run": ("最近一次运行", "last run"),
    "finished": ("完成时间", "finished"),
    "runs": ("运行次数", "runs"),
    "no_feed": ("尚无数据源运行。", "No feed has run yet."),
    "events": ("风险事件", "Risk events"),
    "filters": ("筛选", "Filters"),
    "kind": ("信号类型", "signal kind"),
    "severity": ("严重程度", "severity"),
    "status": ("状态", "status"),
    "province": ("省份", "province"),
    "certificate_type": ("证书类型", "certificate type"),
    "any": ("全部", "any"),
    "raised_on": ("发起日期", "raised on"),
    "organisation": ("组织", "organisation"),
    "measure": ("建议措施", "recommended measure"),
    "decision": ("决定", "decision"),
    "decided_on": ("决定日期", "decided on"),
    "decision_due": ("决定期限", "decision due"),
    "no_events": ("没有符合条件的风险事件。", "No risk event matches."),
    "next": ("下一页", "next page"),
    "previous": ("上一页", "previous page"),
    "back": ("返回看板", "Back to the dashboard"),
    "event": ("风险事件", "Risk event"),
    "signal": ("信号", "Signal"),
    "signal_id": ("信号编号", "signal id"),
    "rule": ("规则", "rule"),
    "summary": ("摘要", "summary"),
    "match": ("匹配说明", "Match explanation"),
    "method": ("匹配方式", "method"),
    "score": ("匹配得分", "score"),
    "certificates": ("证书", "Certificates"),
    "clocks": ("法定时限", "Statutory clocks"),
    "state": ("状态", "state"),
    "starts": ("起算日", "starts"),
    "ended": ("结束日", "ended"),
    "measures": ("证书措施", "Certificate measures"),
    "effective": ("生效日", "effective"),
    "certificate": ("证书编号", "certificate"),
    "new_status": ("新状态", "new status"),
    "reason": ("理由", "reason"),
    "notifications": ("已发送通知", "Notifications sent"),
    "channel": ("渠道", "channel"),
    "recipient": ("收件人", "recipient"),
    "outcome": ("结果", "outcome"),
    "sent_at": ("时间", "at"),
    "delivered": ("已送达", "delivered"),
    "failed": ("发送失败", "failed"),
    "no_notifications": ("报告服务未收到该事件的通知记录。", "reporting has no notification for this."),
    "audit": ("审计记录", "Audit trail"),
    "audit_note": (
        "审计记录（分配、评论、决定及其操作人）保存在规则服务中：",
        "The audit trail (assignments, comments, decisions and who made them) is kept by the rules service:",
    ),
    "older_event": (
        "该事件在看板上线前发起，报告服务未保存其信号与匹配详情：请查阅规则服务 ",
        "This event was raised before reporting kept its signal and match: see the rules service's ",
    ),
    "organisation_page": ("组织", "Organisation"),
    "certificates_known": ("已排查证书数", "certificates screened"),
    "not_screened": ("报告服务尚未收到该组织的排查记录。", "reporting has not seen this organisation screened."),
    "over_time": ("风险事件（按月）", "Risk events per month"),
    "rank": ("专项排查风险排名", "Campaign risk rank"),
    "rank_note": (
        "风险排名由规则服务的专项排查生成，报告服务不保存：请查阅规则服务 ",
        "The campaign sweep's risk rank is kept by the rules service, not by reporting: see the rules service's ",
    ),
    "cert_note": (
        "报告服务只知道风险事件中列出的证书及已采取的措施；完整证书清单见规则服务 ",
        "reporting knows only the certificates named by risk events and the measures taken; the full list is "
        "on the rules service: ",
    ),
    "language": ("English", "中文"),
    "unknown": ("未知", "unknown"),
    "none": ("无", "none"),
    "past_deadline": ("已逾期", "past their deadline"),
    "login": ("登录", "Log in"),
    "logout": ("退出登录", "Log out"),
    "token": ("访问令牌", "Access token"),
    "login_note": (
        "请输入您的访问令牌（由管理员通过 certwatch rules token-create 生成）。登录后，本浏览器可查看看板 12 小时。",
        "Enter your access token (an administrator makes one with certwatch rules token-create). Once logged in, "
        "this browser may open the dashboard for 12 hours.",
    ),
    "login_unknown": ("令牌无效或已被撤销。", "That token is unknown or revoked."),
    "login_denied": ("该令牌的角色无权查看看板。", "That token's role may not read the dashboard."),
    "login_csrf": ("登录表单已过期，请重试。", "The login form had expired: try again."),
}
STATUSES = [s.value for s in RiskEventStatus] + ["overdue"]  # overdue: open or in review, past the deadline
PALETTE = [
    "#2f6fb3",
    "#e07b39",
    "#3a9b5b",
    "#c64b4b",
    "#8a63b8",
    "#8c6d46",
    "#d16aa8",
    "#6f7f8f",
    "#b5a832",
    "#2fa6b3",
    "#5a4fcf",
    "#9b3a3a",
]
PAGE = 100


@dataclass
class Words:
    """A language's words for one page (templates call `w("key")` and `w.of(value, Enum)`)."""

    language: str
    logout: str | None = None  # the logout form's CSRF token, when the page was opened with the login cookie

    def __call__(self, key: str) -> str:
        zh, en = WORDS[key]
        return en if self.language == "en" else zh

    def of(self, value: str | None, kind: type[StrEnum] | None = None) -> str:
        if value is None or value in ("", "unknown", "none"):
            return self(value or "none")
        if value == SELF_REPORT and kind in (None, SignalKind):  # a kind newer than shared/labels.py may know
            return self("self_reported")
        return label(value, self.language, kind)

    def day(self, at: datetime | date | None) -> str:
        """A local date (Asia/Shanghai), never a raw timestamp."""
        if at is None:
            return "—"
        day = local_day(at) if isinstance(at, datetime) else at
        return f"{day.year}年{day.month}月{day.day}日" if self.language != "en" else day.isoformat()

    def moment(self, at: datetime | None) -> str:
        if at is None:
            return "—"
        return f"{self.day(at)} {at.astimezone(LOCAL):%H:%M}"


def language(asked: str | None, remembered: str | None) -> str:
    for choice in (asked, remembered):
        if choice in LANGUAGES:
            return "en" if choice == "en" else "zh-CN"
    return DEFAULT_LANGUAGE


# --- charts ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str
    href: str


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: list[tuple[float, float, str, str]]  # x, y, title, href

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in self.points)


@dataclass
class Chart:
    """An SVG chart with its axes, and the table behind it (shown on request)."""

    key: str
    title: str
    x_label: str
    y_label: str
    width: int = 760
    height: int = 260
    segments: list[Segment] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    legend: list[tuple[str, str, str]] = field(default_factory=list)  # colour, name, href
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[list[object]] = field(default_factory=list)

    LEFT, TOP, BOTTOM = 48, 12, 40

    @property
    def plot_width(self) -> int:
        return self.width - self.LEFT - 12

    @property
    def plot_height(self) -> int:
        return self.height - self.TOP - self.BOTTOM

    @property
    def has_data(self) -> bool:
        return bool(self.segments) or any(p for line in self.lines for p in line.points)


def _scale(top: float) -> tuple[float, list[tuple[float, str]]]:
    """A round axis maximum and its four ticks."""
    top = max(top, 1)
    step = 10 ** max(len(str(int(top))) - 1, 0)
    for factor in (1, 2, 5, 10):
        if top <= 4 * step * factor:
            step *= factor
            break
    return 4 * step, [(i * step, f"{i * step:g}") for i in range(5)]


def weekly_chart(w: Words, weeks: list[date], counts: dict[date, dict[str, int]], link: str) -> Chart:
    chart = Chart("weekly", w("weekly"), w("week"), w("events_n"))
    kinds = sorted(
        {k for week in counts.values() for k in week},
        key=lambda k: [s.value for s in SignalKind].index(k) if k in SignalKind._value2member_map_ else 99,
    )
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(kinds)}
    top, chart.y_ticks = _scale(max((sum(c.values()) for c in counts.values()), default=0))
    slot = chart.plot_width / max(len(weeks), 1)
    for i, week in enumerate(weeks):
        y = float(chart.TOP + chart.plot_height)
        for kind in kinds:
            n = counts.get(week, {}).get(kind, 0)
            if not n:
                continue
            height = chart.plot_height * n / top
            y -= height
            href = f"{link}?{urlencode({'kind': kind, 'week': week.isoformat()})}"
            title = f"{w.day(week)} {w.of(kind, SignalKind)}: {n}"
            chart.segments.append(
                Segment(chart.LEFT + i * slot + 1, y, max(slot - 2, 1), height, colours[kind], title, href)
            )
        if week.day <= 7:  # the first week of each month carries its tick
            chart.x_ticks.append((chart.LEFT + i * slot, f"{week.month}月" if w.language != "en" else f"{week:%b}"))
    chart.legend = [(colours[k], w.of(k, SignalKind), f"{link}?{urlencode({'kind': k})}") for k in kinds]
    chart.header = [w("week"), *(w.of(k, SignalKind) for k in kinds), w("total")]
    chart.rows = [
        [w.day(week), *(counts.get(week, {}).get(k, 0) for k in kinds), sum(counts.get(week, {}).values())]
        for week in weeks
    ]
    return chart


def line_chart(
    w: Words,
    key: str,
    points: list[date],
    series: list[tuple[str, str, list[float | None], str]],
    x_label: str,
    y_label: str,
    monthly: bool = False,
) -> Chart:
    """`series`: (name, colour, one value per point or None, link of the series' events)."""
    chart = Chart(key, w(key), x_label, y_label)
    top, chart.y_ticks = _scale(max((v for _, _, values, _ in series for v in values if v is not None), default=0))
    step = chart.plot_width / max(len(points) - 1, 1)
    for name, colour, values, href in series:
        found = [
            (
                chart.LEFT + i * step,
                chart.TOP + chart.plot_height * (1 - v / top),
                f"{w.day(points[i])} {name}: {v:g}",
                href,
            )
            for i, v in enumerate(values)
            if v is not None
        ]
        chart.lines.append(Line(name, colour, found))
        chart.legend.append((colour, name, href))
    for i, point in enumerate(points):
        if monthly or point.day <= 7:
            text = f"{point.month}月" if w.language != "en" else f"{point:%b}"
            chart.x_ticks.append((chart.LEFT + i * step, text))
    chart.header = [x_label, *(name for name, _, _, _ in series)]
    chart.rows = [
        [w.day(p), *("—" if values[i] is None else f"{values[i]:g}" for _, _, values, _ in series)]
        for i, p in enumerate(points)
    ]
    return chart


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _median(histogram: dict[int, int]) -> float | None:
    """The median of a histogram {days: how many}."""
    total = sum(histogram.values())
    if not total:
        return None
    low, high, seen, values = (total - 1) // 2, total // 2, 0, []
    for days in sorted(histogram):
        seen += histogram[days]
        values += [days] * sum(1 for position in (low, high) if seen - histogram[days] <= position < seen)
    return (values[0] + values[1]) / 2


async def trends(session: AsyncSession, w: Words, today: date, link: str) -> list[Chart]:
    """The three trend charts over the last 52 weeks, from the daily aggregate alone."""
    first = _monday(today) - timedelta(weeks=51)
    weeks = [first + timedelta(weeks=i) for i in range(52)]
    flows = ["raised", "resolved", "due", "due_resolved"]
    month_points = [(today.replace(day=1) - timedelta(days=31 * i)).replace(day=1) for i in range(11, -1, -1)]
    by_kind: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_week: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    months: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for week, metric, dimension, value in await repository.daily(
        session, ["raised_by_kind", *flows], first, today, "week"
    ):
        assert week is not None
        if metric == "raised_by_kind":
            by_kind[week][dimension] += value
        else:
            per_week[week][metric] += value
    for month, _, dimension, value in await repository.daily(
        session, ["decision_days"], month_points[0], today, "month"
    ):
        assert month is not None
        months[month][int(dimension)] += value
    running = await repository.daily_totals(session, flows, first)
    open_, overdue = [], []
    for week in weeks:
        for metric in flows:
            running[metric] = running.get(metric, 0) + per_week.get(week, {}).get(metric, 0)
        open_.append(float(running.get("raised", 0) - running.get("resolved", 0)))
        overdue.append(float(running.get("due", 0) - running.get("due_resolved", 0)))
    medians = [_median(months.get(m, {})) for m in month_points]
    return [
        weekly_chart(w, weeks, by_kind, link),
        line_chart(
            w,
            "backlog",
            weeks,
            [
                (w("open_events"), PALETTE[0], list[float | None](open_), f"{link}?status=open"),
                (w("overdue_events"), PALETTE[3], list[float | None](overdue), f"{link}?status=overdue"),
            ],
            w("week"),
            w("events_n"),
        ),
        line_chart(
            w,
            "median",
            month_points,
            [(w("median_days"), PALETTE[2], medians, f"{link}?status=decided")],
            w("month"),
            w("days"),
            monthly=True,
        ),
    ]


# --- the main page ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # per cent of the chart's widest bar
    href: str


@dataclass(frozen=True)
class Bars:
    key: str
    title: str
    bars: list[Bar]


def bars(
    w: Words,
    key: str,
    counts: dict[str, int],
    kind: type[StrEnum] | None,
    link: str,
    param: str | None,
    extra: dict[str, str],
) -> Bars:
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    widest = max((n for _, n in items), default=0) or 1
    found = []
    for value, n in items:
        query = urlencode({param: value, **extra}) if param else urlencode(extra)
        found.append(Bar(w.of(value, kind), n, 100 * n / widest, f"{link}?{query}"))
    return Bars(key, w(key), found)


async def overview(session: AsyncSession, w: Words, start: date, end: date, today: date, base: str) -> dict[str, Any]:
    """What the main page shows for a period: figures, the period's charts, trends, timeliness and feeds."""
    link = f"{base}/dashboard/events"
    dims = [
        "raised",
        "raised_by_kind",
        "raised_by_severity",
        "raised_by_province",
        "raised_by_certificate_type",
        "decided_by_measure",
    ]
    period: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for _, metric, dimension, value in await repository.daily(session, dims, start, end):  # one row per dimension
        period[metric][dimension] += value
    measures = await repository.measures_by_status(session, start, end)
    organisations, _ = await repository.screened(session)
    days = {"start": start.isoformat(), "end": end.isoformat()}
    tiles = [
        ("raised", period["raised"].get("all", 0), f"{link}?{urlencode(days)}"),
        # of those, the problems organisations reported themselves (自查自纠上报), counted apart
        (
            "self_reported",
            period["raised_by_kind"].get(SELF_REPORT, 0),
            f"{link}?{urlencode({'kind': SELF_REPORT} | days)}",
        ),
        ("decided", sum(period["decided_by_measure"].values()), f"{link}?{urlencode({'status': 'decided'} | days)}"),
        ("suspended", measures.get(CertificateStatus.SUSPENDED.value, 0), None),
        ("withdrawn", measures.get(CertificateStatus.WITHDRAWN.value, 0), None),
        ("overdue", await repository.overdue_on(session, end), f"{link}?status=overdue"),
        ("screened", organisations, None),
    ]
    return {
        "tiles": tiles,
        "bars": [
            bars(w, "by_kind", period["raised_by_kind"], SignalKind, link, "kind", days),
            bars(w, "by_severity", period["raised_by_severity"], Severity, link, "severity", days),
            bars(w, "by_province", period["raised_by_province"], None, link, "province", days),
            bars(w, "by_certificate_type", period["raised_by_certificate_type"], None, link, "certificate_type", days),
            bars(w, "by_measure", period["decided_by_measure"], Measure, link, None, {"status": "decided"}),
        ],
        "trends": await trends(session, w, today, link),
        "clocks": await _timeliness(session, start, end, today),
        "feeds": await repository.feeds(session),
    }


CLOCK_METRICS = ["clock_due", "clock_met", "clock_missed", "clock_days"]


async def _timeliness(session: AsyncSession, start: date, end: date, today: date) -> list[dict[str, Any]]:
    """Per statutory clock, the deadlines due in [start, end] from the daily aggregate (a few rows per day, where
    the clocks themselves are tens of thousands a month): met, missed (a running clock whose day has passed is
    missed, as shared.contracts.rules.clock_state reads it), still running, and the median and longest days from
    the signal's publication to the act that ended the clock."""
    lines: dict[str, dict[str, Any]] = {
        k.value: {"kind": k.value, "basis": None, "due": 0, "met": 0, "missed": 0, "running": 0} for k in ClockKind
    }
    days: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for first, last, passed in ((start, min(end, today - timedelta(days=1)), True), (max(start, today), end, False)):
        if first > last:
            continue
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _, metric, dimension, n in await repository.daily(session, CLOCK_METRICS, first, last):
            if metric == "clock_days":
                kind, _, value = dimension.rpartition(":")
                days[kind][int(value)] += n
            else:
                counts[dimension][metric] += n
        for kind, c in counts.items():
            if kind not in lines:
                continue
            waiting = c["clock_due"] - c["clock_met"] - c["clock_missed"]  # neither met nor missed: still running
            line = lines[kind]
            line["due"] += c["clock_due"]
            line["met"] += c["clock_met"]
            line["missed"] += c["clock_missed"] + (waiting if passed else 0)
            line["running"] += 0 if passed else waiting
    found = []
    for kind, line in lines.items():
        line["median_days"] = _median(days.get(kind, {}))
        line["max_days"] = max(days[kind]) if days.get(kind) else None
        if line["due"]:
            line["basis"] = await _basis(session, kind, start, end)
        found.append(line)
    return found


async def _basis(session: AsyncSession, kind: str, start: date, end: date) -> str | None:
    """The legal basis of a clock kind, from one of its clocks due in the period (on the due_on index)."""
    c = ClockView
    stmt = select(c.basis_document + " " + c.basis_article).where(c.kind == kind, c.due_on >= start, c.due_on <= end)
    return await session.scalar(stmt.limit(1))


# --- drill-down ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    week: date | None = None
    status: str | None = None
    severity: str | None = None
    province: str | None = None
    certificate_type: str | None = None
    start: date | None = None
    end: date | None = None

    def where(self, today: date) -> list[ColumnElement[bool]]:
        e = RiskEventView
        where: list[ColumnElement[bool]] = []
        first, last = self.start, self.end
        if self.week:
            first, last = (
                max(first or self.week, self.week),
                min(last or self.week + timedelta(days=6), self.week + timedelta(days=6)),
            )
        if first:
            where.append(e.raised_at >= datetime.combine(first, datetime.min.time(), tzinfo=LOCAL))
        if last:
            where.append(e.raised_at < datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=LOCAL))
        if self.kind:
            where.append(e.signal_kind == self.kind)
        if self.status == "overdue":
            where.append(repository.past_deadline(today))
        elif self.status:
            where.append(e.status == self.status)
        if self.severity:
            where.append(e.severity == self.severity)
        if self.province:
            where.append(e.province.is_(None) if self.province == "unknown" else e.province == self.province)
        if self.certificate_type:
            where.append(
                e.certificate_types == ""
                if self.certificate_type == "none"
                else ("," + e.certificate_types + ",").contains(f",{self.certificate_type},")
            )
        return where

    def query(self, **changed: object) -> str:
        values = {k: v for k, v in (self.__dict__ | changed).items() if v not in (None, "")}
        return urlencode({k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()})


async def event_list(session: AsyncSession, filters: Filters, page: int, today: date) -> list[RiskEventView]:
    where = filters.where(today)
    if filters.status == "overdue":
        # the page's ids first, newest first, from the open events' index alone (ix_risk_events_open_raised_at:
        # its predicate written as the index's, never as bound parameters); then those rows
        e = RiskEventView
        ids = (
            select(e.risk_event_id)
            .where(*where, text("risk_events.status IN ('open', 'in_review')"))
            .order_by(e.raised_at.desc(), e.risk_event_id)
            .limit(PAGE + 1)
            .offset((page - 1) * PAGE)
        )
        return await repository.list_risk_events(session, [e.risk_event_id.in_(ids.scalar_subquery())], PAGE + 1)
    return await repository.list_risk_events(session, where, PAGE + 1, (page - 1) * PAGE)


async def event_page(session: AsyncSession, risk_event_id: uuid.UUID) -> dict[str, Any]:
    event = await repository.risk_event(session, risk_event_id)
    if event is None:
        raise NotFound(f"no risk event {risk_event_id} in reporting")
    return {
        "event": event,
        "certificates": [line.split(" ") for line in (event.certificates or "").splitlines()],
        "clocks": await repository.clocks_of(session, risk_event_id),
        "measures": await repository.measures_of(session, risk_event_id=risk_event_id),
        "notifications": await repository.notifications_of(session, risk_event_id=risk_event_id),
    }


async def organisation_page(session: AsyncSession, w: Words, organisation_id: uuid.UUID, today: date) -> dict[str, Any]:
    events = await repository.list_risk_events(session, [RiskEventView.organisation_id == organisation_id], 1000)
    screened = await repository.screened_organisation(session, organisation_id)
    if not events and screened is None:
        raise NotFound(f"reporting knows no organisation {organisation_id}")
    months = sorted({local_day(e.raised_at).replace(day=1) for e in events})
    per_month: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        per_month[local_day(e.raised_at).replace(day=1)][e.signal_kind] += 1
    certificates = sorted({tuple(line.split(" ")[:2]) for e in events for line in (e.certificates or "").splitlines()})
    return {
        "name": events[0].organisation_name if events else str(organisation_id),
        "organisation_id": organisation_id,
        "events": events,
        "screened": screened,
        "certificates": certificates,
        "measures": await repository.measures_of(session, organisation_id=organisation_id),
        "notifications": await repository.notifications_of(session, organisation_id=organisation_id),
        "months": [
            (
                w.day(m)[: -len(f"{m.day}日")] if w.language != "en" else f"{m:%Y-%m}",
                sum(per_month[m].values()),
                {w.of(k, SignalKind): n for k, n in per_month[m].items()},
            )
            for m in months
        ],
    }


# --- rendering -------------------------------------------------------------------------------------------------


def render(template: str, w: Words, base: str, switch: str, **context: Any) -> str:
    enums = {
        "SignalKind": SignalKind,
        "Severity": Severity,
        "Measure": Measure,
        "RiskEventStatus": RiskEventStatus,
        "CertificateStatus": CertificateStatus,
        "ClockKind": ClockKind,
        "ClockState": ClockState,
        "Channel": Channel,
        "FeedRunStatus": FeedRunStatus,
    }
    return _env.get_template(template).render(w=w, base=base, switch=switch, lang=w.language, **enums, **context)
