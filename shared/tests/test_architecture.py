"""Architecture checks that import-linter cannot express (issue 14 item 7)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Route files still reading `request.app.state` directly, to be moved onto typed dependencies
# (shared/dependencies.py). The list only shrinks: a file that no longer needs its entry fails the test.
NOT_YET: set[str] = set()


def route_files() -> list[Path]:
    return sorted(p for p in (ROOT / "services").rglob("*.py") if "/tests/" not in str(p) and "router" in p.read_text())


def test_no_route_reads_the_app_state_directly() -> None:
    """Routes name what they need as typed dependencies; only a service's main.py (its wiring) and
    shared/dependencies.py touch `app.state`."""
    reading = {str(p.relative_to(ROOT)) for p in route_files() if "app.state" in p.read_text() and p.name != "main.py"}
    assert reading - NOT_YET == set(), "use a dependency from shared/dependencies.py (or the service's own)"
    assert NOT_YET - reading == set(), "this file is converted: take it off NOT_YET"
