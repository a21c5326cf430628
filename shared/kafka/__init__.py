"""Kafka plumbing: producer, consumer loop (commit after DB, dedupe, retry, DLQ), outbox relay."""
