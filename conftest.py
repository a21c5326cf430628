"""Test-session plumbing for every test folder: real PostgreSQL, broker and SMTP (tests/support)."""

pytest_plugins = ["tests.support.infra"]
