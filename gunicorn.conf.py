"""Read by gunicorn when it starts in this directory: Keystile's settings (app/gunicorn_conf.py)."""

from app.gunicorn_conf import (  # noqa: F401
    post_fork,
    post_worker_init,
    threads,
    worker_class,
    workers,
)
