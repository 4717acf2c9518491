"""Who may act as an administrator, and the checks of user-supplied values they share.

Administrative use cases take an ``actor_id``. From the web, it must be the id of an active
admin. The command line and the JSON API are *operator channels*: there ``actor_id`` may be
None, because the adapter has already established the operator's authority (local access
to the configuration and database for the CLI; an API token with the ``admin`` scope for
the API). Such events are audited with no actor name and the origin's ``source``; the
adapter names the operator in ``Origin.user_agent`` (e.g. ``"cli:alice"``).

An action that weakens someone's protection loads its actor with
:func:`load_stepped_up_admin`: a signed-in admin must also bring a fresh full step-up
(see :mod:`otpgate.service.admin_step_up`); the operator channels need none.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from otpgate.service._stepup import require_fresh_step_up
from otpgate.service._tx import check_id
from otpgate.service.errors import NotPermitted
from otpgate.store.models import User

if TYPE_CHECKING:
    from otpgate.service.context import Context, Origin

__all__ = ["OPERATOR_SOURCES", "load_admin_actor", "load_stepped_up_admin"]

OPERATOR_SOURCES = frozenset({"cli", "api"})


def load_admin_actor(session: Session, origin: Origin, actor_id: object) -> User | None:
    """The active admin acting, or None for an operator channel; :class:`NotPermitted` else."""
    if actor_id is None:
        if origin.source in OPERATOR_SOURCES:
            return None
        raise NotPermitted("An administrator must be signed in to do this.")
    actor = session.get(User, check_id(actor_id, "actor id"))
    if actor is None or not actor.is_active or not actor.is_admin:
        raise NotPermitted("Only an active administrator may do this.")
    return actor


def load_stepped_up_admin(
    session: Session,
    ctx: Context,
    origin: Origin,
    actor_id: object,
    step_up_at: datetime | None,
) -> User | None:
    """:func:`load_admin_actor`, and for a signed-in admin a full step-up younger than
    ``settings.step_up_seconds`` (:class:`StepUpRequired` otherwise)."""
    actor = load_admin_actor(session, origin, actor_id)
    if actor is not None:
        require_fresh_step_up(ctx, step_up_at)
    return actor
