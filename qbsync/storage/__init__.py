"""Durable storage: the SQLAlchemy models, the database handle, Alembic migrations, encrypted columns."""
