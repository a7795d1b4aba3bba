"""Notifications: e-mails to the data subject when an export is ready, a request was rejected or completed, or a
notice changed so that their consent needs renewing (docs/notifications.md).

Callers enqueue in their own transaction (`service.notify`); the job reads the address from the vault at send
time and sends it over SMTP. No address is ever stored outside the vault, queued, logged or audited.
governance/composition.py wires it into the app (the send job, the `notifications` CLI group).
"""
