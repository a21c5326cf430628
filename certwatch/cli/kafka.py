"""`certwatch kafka`: topics, consumer lag, dead letters, and republishing what the broker lost."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from certwatch.cli.common import fail, print_json
from shared.settings import PlatformSettings

app = typer.Typer(help="Broker: topics and dead letters.", no_args_is_help=True)


@app.command("ensure-topics")
def kafka_ensure_topics(partitions: int = 3) -> None:
    """Create every contract topic and its DLQ if missing."""
    from shared.kafka.admin import ensure_topics

    created = asyncio.run(ensure_topics(PlatformSettings(), partitions))
    typer.echo(f"topics created: {len(created)}")


@app.command("lag")
def kafka_lag(group: str, topic: Annotated[list[str], typer.Option(help="topics of the group")]) -> None:
    """How many messages a consumer group has not processed yet."""
    from shared.kafka.lag import group_lag

    typer.echo(asyncio.run(group_lag(PlatformSettings(), group, topic)))


@app.command("dlq")
def kafka_dlq(topic: str) -> None:
    """Show the dead letters of a topic: why each failed, where from, and the message."""
    from shared.kafka.dlq import read_dlq

    for letter in asyncio.run(read_dlq(PlatformSettings(), topic)):
        print_json(
            {
                "offset": letter.offset,
                "key": letter.key,
                "headers": letter.headers,
                "value": letter.value.decode(errors="replace")[:2000],
            }
        )


@app.command("replay-dlq")
def kafka_replay_dlq(topic: str) -> None:
    """Send a topic's dead letters back to it, once (after the cause is fixed)."""
    from shared.kafka.dlq import replay_dlq

    typer.echo(f"replayed: {asyncio.run(replay_dlq(PlatformSettings(), topic))}")


@app.command("republish")
def kafka_republish(
    since: Annotated[str, typer.Option(help="ISO 8601 time (local unless it has a zone) or a duration back: 2h, 1d")],
    service: Annotated[list[str] | None, typer.Option(help="only these services' outboxes (repeatable)")] = None,
    partitions: Annotated[int, typer.Option(help="for topics the broker lost")] = 3,
) -> None:
    """Send every outbox event created since T again, after the broker lost them (consumers skip what they had)."""
    from certwatch.republish import run

    try:
        done = run(since, service, partitions)
    except ValueError as exc:
        fail(str(exc))
    for each in done:
        typer.echo(f"{each.service}: {each.events} event(s) republished {each.topics}")
