"""gunicorn settings read by default from the working folder (`gunicorn wsgi:app`); see README.md.

Requests above these limits are refused by gunicorn before the app runs, with a JSON error body
(`governance/gunicorn_errors.py`): request line over 8190 bytes → 414, more than 100 header fields or a field
over 8190 bytes → 431.
"""

from governance.gunicorn_errors import install

limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

install()
