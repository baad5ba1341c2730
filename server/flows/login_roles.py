"""The roles a login's `event.authorization.roles` carries. A tenant that keeps roles in
actionhost (/api/v2/roles) has them from the store, the source of truth as the profile is for
metadata; a tenant with no roles keeps what its login service sent, as before roles existed.
Whether a tenant has roles is remembered for a few seconds, so that a tenant without them pays
no store read per login."""

from __future__ import annotations

import time
from typing import Any

HAS_ROLES_SECONDS = 5.0
TENANTS_KEPT = 10_000


class LoginRoles:
    def __init__(self, roles: Any) -> None:
        self._roles = roles
        self._has_roles: dict[str, tuple[float, bool]] = {}

    async def of(self, tenant: str, user_id: str) -> list[str] | None:
        """The user's role names, sorted; None when the tenant has no roles at all."""
        now = time.monotonic()
        known = self._has_roles.get(tenant)
        if known is None or now - known[0] >= HAS_ROLES_SECONDS:
            if len(self._has_roles) >= TENANTS_KEPT:
                self._has_roles.pop(next(iter(self._has_roles)))
            known = self._has_roles[tenant] = (now, await self._roles.tenant_has_roles(tenant))
        return await self._roles.names_of_user(tenant, user_id) if known[1] else None

    def forget(self, tenant: str) -> None:
        """This node created or deleted a role of the tenant: the next login asks the store."""
        self._has_roles.pop(tenant, None)


def with_roles(event: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """`event` whose authorization.roles are `names` (its other authorization keys kept)."""
    authorization = event.get("authorization")
    return {**event, "authorization": {**(authorization if isinstance(authorization, dict) else {}), "roles": names}}
