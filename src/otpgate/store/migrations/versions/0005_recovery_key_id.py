"""Recovery codes hashed with a key: the id of the secret key beside each hash.

Rows stored before keep a NULL key id: their plain SHA-256 still finds them until they
are used or the user's codes are regenerated (the codes themselves are not known, so
they cannot be re-hashed).

Revision ID: 0005
Revises: 0004
Create Date: 2025-01-05 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recovery_codes") as batch:
        batch.add_column(sa.Column("key_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recovery_codes") as batch:
        batch.drop_column("key_id")
