"""Drop the index on audit_events.kind: every code check writes an audit row, and this
index served no query well enough to pay for its update on each of them (a kind filter
reads the newest rows through the ``at`` or the ``(subject_id, at)`` index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_kind", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_kind", "audit_events", ["kind"])
