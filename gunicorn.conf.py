"""Read by gunicorn when it starts in this directory: Keystile's settings (app/gunicorn_conf.py)."""

from app.gunicorn_conf import post_worker_init  # noqa: F401
