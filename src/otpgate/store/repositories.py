"""Queries and atomic operations on the tables of :mod:`otpgate.store.models`.

Every function takes the caller's :class:`~sqlalchemy.orm.Session` first and never
commits: the use case's transaction (see :func:`otpgate.store.db.transaction`) does.
Inserts flush at once inside a SAVEPOINT, so they return rows with their ids and a
duplicate raises :class:`~otpgate.store.errors.Conflict` without spoiling the
transaction. ``get_*`` and ``find_*`` return None for a missing row. Datetimes are
timezone-aware UTC (naive ones are refused with ValueError).

The operations that guard against replays and count failures are single statements, so
they stay correct across processes and hosts: :func:`advance_last_step`,
:func:`consume_recovery_code` (conditional UPDATEs) and :func:`record_failure` (an upsert).
No business rule lives here: whether a device, session or token is still valid, or how
long a lock lasts, is decided by the service layer.
"""

from __future__ import annotations

from otpgate.store._access import (
    add_api_token,
    add_session,
    add_trusted_device,
    delete_expired_sessions,
    delete_session,
    delete_sessions_of,
    delete_trusted_devices,
    find_api_token,
    find_trusted_device,
    get_session,
    list_api_tokens,
    revoke_all_devices,
    revoke_api_token,
    revoke_trusted_device,
    trusted_devices_of,
)
from otpgate.store._accounts import (
    add_credential,
    add_recovery_codes,
    add_user,
    advance_last_step,
    consume_recovery_code,
    count_users,
    credentials_not_under,
    credentials_of,
    delete_credential,
    delete_credentials,
    delete_expired_pending,
    delete_recovery_codes,
    find_user,
    get_credential,
    get_user,
    lock_user,
    recovery_codes_left,
    search_users,
)
from otpgate.store._checks import *  # noqa: F403 - the code check's Core statements
from otpgate.store._groups import (
    add_group_member,
    group_members,
    groups_of_user,
    remove_group_member,
)
from otpgate.store._outbox import *  # noqa: F403 - the outbox repositories
from otpgate.store._passkeys import *  # noqa: F403 - WebAuthn handles and credentials
from otpgate.store._records import (
    add_audit,
    clear_throttle,
    clear_throttles_like,
    delete_setting,
    delete_settings_like,
    get_setting,
    get_throttle,
    get_throttles,
    query_audit,
    record_failure,
    set_lock,
    set_setting,
    settings_like,
)

__all__ = [
    "add_api_token",
    "add_audit",
    "add_credential",
    "add_group_member",
    "add_recovery_codes",
    "add_session",
    "add_trusted_device",
    "add_user",
    "advance_last_step",
    "clear_throttle",
    "clear_throttles_like",
    "consume_recovery_code",
    "count_users",
    "credentials_not_under",
    "credentials_of",
    "delete_credential",
    "delete_credentials",
    "delete_expired_pending",
    "delete_expired_sessions",
    "delete_recovery_codes",
    "delete_session",
    "delete_sessions_of",
    "delete_setting",
    "delete_settings_like",
    "delete_trusted_devices",
    "find_api_token",
    "find_trusted_device",
    "find_user",
    "get_credential",
    "get_session",
    "get_setting",
    "get_throttle",
    "get_throttles",
    "get_user",
    "group_members",
    "groups_of_user",
    "list_api_tokens",
    "lock_user",
    "query_audit",
    "record_failure",
    "recovery_codes_left",
    "remove_group_member",
    "revoke_all_devices",
    "revoke_api_token",
    "revoke_trusted_device",
    "search_users",
    "set_lock",
    "set_setting",
    "settings_like",
    "trusted_devices_of",
]
