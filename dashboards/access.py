"""Who may see what, in one place. The rules are enforced by the regulation part
(`regulation.access`: bearer token or the console's session cookie; 401 without credentials,
403 for a role that may not, CSRF on cookie-authenticated changes)."""

from __future__ import annotations

from regulation.access import allow, csrf_token, current_staff
from regulation.roles import Role

#: `GET /api/queues` and the stream: every staff role (contract).
EVERY_ROLE = tuple(r.value for r in Role)
#: Reports, charts, the agents' board, the supervisor pages, the policy and its history.
OVERSEERS = (Role.SUPERVISOR.value, Role.ADMIN.value)
#: Changing the targets policy.
ADMINS = (Role.ADMIN.value,)

__all__ = ["ADMINS", "EVERY_ROLE", "OVERSEERS", "allow", "csrf_token", "current_staff"]
