"""The outbox domain: a transactional outbox relayed to the message broker (docs/broker.md).

Writers (consent, requests, training) call `governance.outbox.service.write` in their own transaction; the
`governance outbox-relay` process publishes the rows to RabbitMQ with publisher confirms.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    """Add the `outbox-relay` command and the backlog gauges (pending messages, age of the oldest)."""
    from governance.health import add_metric_refresher
    from governance.outbox.metrics import refresher

    add_metric_refresher(app, refresher(app))
    from governance.cli import governance_cli
    from governance.outbox.cli import outbox_relay_command

    if outbox_relay_command.name not in governance_cli.commands:
        governance_cli.add_command(outbox_relay_command)
