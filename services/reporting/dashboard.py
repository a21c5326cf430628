"""The regulator-facing dashboard: one server-rendered page (HTML and inline SVG charts, no scripts) for a
chosen period, with the report's exports a click away."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from services.reporting.report import Report

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)

SECTION_TITLES = {
    "raised by signal kind": "Risk events by signal kind",
    "raised by severity": "Risk events by severity",
    "raised by province": "Risk events by province",
    "raised by certificate type": "Risk events by certificate type",
    "decided by measure": "Decisions by measure",
    "certificates by new status": "Certificate measures",
}


@dataclass(frozen=True)
class Bar:
    label: str
    count: int
    width: float  # per cent of the chart's widest bar


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]


def charts(report: Report) -> list[Chart]:
    by_section: dict[str, list[tuple[str, int]]] = {}
    for section, item, count in report.summary():
        if section in SECTION_TITLES:
            by_section.setdefault(section, []).append((item, count))
    found = []
    for section, title in SECTION_TITLES.items():
        items = sorted(by_section.get(section, []), key=lambda item: (-item[1], item[0]))
        widest = max((n for _, n in items), default=0) or 1
        found.append(Chart(title, [Bar(label, n, 100 * n / widest) for label, n in items]))
    return found


def render(report: Report, summary: dict[str, object], today: date) -> str:
    measures = [m.new_status for m, _ in report.measures]
    tiles = [
        ("raised", "Risk events raised", len(report.raised)),
        ("decided", "Decisions taken", len(report.decided)),
        ("suspended", "Certificates suspended", measures.count("suspended")),
        ("withdrawn", "Certificates withdrawn", measures.count("withdrawn")),
        ("overdue", "Open past their deadline", len(report.overdue)),
        ("screened", "Organisations screened", summary["organisations_screened"]),
    ]
    return _env.get_template("dashboard.html.j2").render(
        report=report, tiles=tiles, charts=charts(report), feeds=summary["feeds"], today=today
    )
