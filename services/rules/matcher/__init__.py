"""The matcher: names taken apart, the registry index, screening. Its hot modules are compiled (see
shared/compiled.py); the guard keeps a stale build from being imported."""

from shared.compiled import install_guard

install_guard()
