"""Flows: Prefect flows and tasks, events, deployment wiring and the `chorus` command; plain stage functions beside them."""
