"""The embedded local stack: private PostgreSQL, the Tansu broker, mail and SMS sinks, four services.

Everything runs on loopback, on free ports, with data and logs in one folder (`.data/` by default).
One module per concern: `processes` (spawn, liveness, ports), `postgres` (the cluster, roles and
schemas), `broker` (Tansu), `sinks` (mail, SMS, feed server), `environment` (stack.json, secrets,
stack.env) and `lifecycle` (up, down, status, the services' api and worker processes). The same start
functions serve the test session's fixtures; they import them from their module. This package exports
the whole stack's face: what the CLI, the main job and the benchmarks on a running stack use.
"""

from certwatch.stack.environment import admin_token, feed_token, load_env, read_env, read_state
from certwatch.stack.lifecycle import down, is_up, status, up
from certwatch.stack.processes import StackError

__all__ = [
    "StackError",
    "admin_token",
    "down",
    "feed_token",
    "is_up",
    "load_env",
    "read_env",
    "read_state",
    "status",
    "up",
]
