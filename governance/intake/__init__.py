"""Event intake orchestration (vault + consent) shared by `POST /api/v1/events` and the broker's intake
consumer (`governance intake-consumer`, docs/broker.md). Above vault and consent in the layering."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the `intake-consumer` command."""
    from governance.cli import governance_cli
    from governance.intake.cli import intake_consumer_command

    if intake_consumer_command.name not in governance_cli.commands:
        governance_cli.add_command(intake_consumer_command)
