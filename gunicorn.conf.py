"""gunicorn settings read by default from the working folder (`gunicorn wsgi:app`); see README.md.

Requests above these limits are refused by gunicorn before the app runs, with a JSON error body
(`governance/gunicorn_errors.py`): request line over 8190 bytes → 414, more than 100 header fields or a field
over 8190 bytes → 431.
"""

from governance.gunicorn_errors import install

# Worker model (issue 16, measured with bench/intake_http.py; docs/performance.md): threaded workers, 4 threads
# each. With sync workers only one request per worker is in flight, so a consent write waiting on PostgreSQL
# leaves its core idle, and under CPU contention throughput collapsed (7.5 writes/s vs 24.0 with gthread:4 in
# the same run, /healthz 31 vs 348 req/s). 4 threads stay within the engine's pool of 10 connections per
# process (governance/db.py), so a thread never waits for a connection. Workers: `--workers` (or
# WEB_CONCURRENCY), about 2 per core.
worker_class = "gthread"
threads = 4

limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

install()
