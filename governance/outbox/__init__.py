"""The outbox domain: a transactional outbox relayed to the message broker (docs/broker.md).

Writers (consent, requests, training) call `governance.outbox.service.write` in their own transaction; the
`governance outbox-relay` process publishes the rows to RabbitMQ with publisher confirms. governance/composition.py
adds that command and the backlog gauges (pending messages, age of the oldest).
"""
