"""The `governance` command group: `flask --app wsgi governance <command>`. The composition root
(governance/composition.py) adds each domain's commands to `governance_cli` and the group to the app's CLI."""

from __future__ import annotations

import threading

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import run_simple

from governance.demo import load_demo
from governance.jobs.worker import Worker, drain, start_background_worker
from governance.migrations_support import head_revision, upgrade

governance_cli = AppGroup("governance", help="Privacy and consent governance service.")


def _settings():
    return current_app.extensions["governance.settings"]


@governance_cli.command("init")
def init_command() -> None:
    """Migrate the database to the latest schema and create development keys if absent."""
    settings = _settings()
    upgrade(settings.database_url)
    keys = current_app.extensions["governance.keys"]
    for hook in current_app.extensions.get("governance.init_hooks", []):
        hook()
    click.echo(f"database migrated to {head_revision()}")
    click.echo(f"keys directory: {settings.key_dir}")
    if keys.dev_keys:
        click.echo(f"development keys created: {', '.join(sorted(keys.dev_keys))} (never use them in production)")


@governance_cli.command("worker")
@click.option("--once", is_flag=True, help="Run due jobs until none is left, then exit.")
@click.option("--kind", "kinds", multiple=True, help="Only run jobs of these kinds.")
def worker_command(once: bool, kinds: tuple[str, ...]) -> None:
    """Run a job worker (one per process; start several for more throughput)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        click.echo(f"ran {drain(app, kinds=list(kinds) or None)} jobs")
        return
    stop = threading.Event()
    worker = Worker(app, kinds=list(kinds) or None)
    click.echo(f"worker {worker.worker_id} started")
    try:
        worker.run(stop, poll_seconds=_settings().job_poll_seconds)
    except KeyboardInterrupt:
        stop.set()


@governance_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve_command(host: str, port: int) -> None:
    """Development server with one in-process job worker (production: gunicorn + separate workers)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    start_background_worker(app)
    click.echo(f"Serving on http://{host}:{port}/  (API description: http://{host}:{port}/api/openapi.json)")
    run_simple(host, port, app, use_reloader=False, threaded=True)


@governance_cli.command("demo")
@click.option("--subjects", default=300, show_default=True, help="How many synthetic data subjects.")
@click.option("--seed", default=20261128, show_default=True)
def demo_command(subjects: int, seed: int) -> None:
    """Load a realistic synthetic data set (profiles, consents, events) with a fixed seed."""
    summary = load_demo(current_app._get_current_object(), subjects=subjects, seed=seed)  # type: ignore[attr-defined]
    for line in summary:
        click.echo(line)
