"""WSGI entry point for gunicorn and other servers: ``qbsync.service.wsgi:app``."""

from qbsync.service.app import create_app

app = create_app()
