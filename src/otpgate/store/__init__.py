"""Persistence: SQLAlchemy 2 models, repositories and Alembic migrations.

Import the submodules (``db``, ``schema``, ``repositories``, ``models``, ``errors``);
this package module stays empty so that loading ``otpgate.store.errors`` does not load
SQLAlchemy.
"""
