"""Identities of a user and account linking, as Auth0 does them: a user's `identities` list
names each account (provider, user_id, connection) that logs in as that user; linking moves the
secondary user's identities, each with the secondary's profile as `profileData`, to the end of
the primary's list, and the secondary user is no more."""

from __future__ import annotations

from typing import Any

# Auth0's non-social providers: database, passwordless email and SMS, enterprise connections
# keep their provider name; these three are the ones a user can have without a social login
NOT_SOCIAL = frozenset({"auth0", "email", "sms"})
# attributes of a user that are not its profile (Auth0 leaves them out of profileData)
NOT_PROFILE_DATA = frozenset({"user_id", "identities", "app_metadata", "user_metadata", "created_at", "updated_at",
                              "last_login", "logins_count", "last_ip", "connection"})


def split_user_id(user_id: str) -> tuple[str, str]:
    """("google-oauth2", "1234") of "google-oauth2|1234"; a user id without '|' is an auth0 one."""
    provider, sep, rest = user_id.partition("|")
    return (provider, rest) if sep else ("auth0", user_id)


def identities_of(user: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's identities; a user stored without any has the one its user_id names."""
    stored = user.get("identities")
    if isinstance(stored, list) and stored and all(isinstance(i, dict) for i in stored):
        return [dict(i) for i in stored]
    provider, rest = split_user_id(user["user_id"])
    connection = user.get("connection") if isinstance(user.get("connection"), str) else provider
    return [{"connection": connection, "provider": provider, "user_id": rest, "isSocial": provider not in NOT_SOCIAL}]


def linked_identities(primary: dict[str, Any], secondary: dict[str, Any]) -> list[dict[str, Any]]:
    """The primary's identities after the secondary is linked to it."""
    profile = {k: v for k, v in secondary.items() if k not in NOT_PROFILE_DATA}
    own, *linked_before = identities_of(secondary)
    # the secondary's own identity carries its profile; identities linked to it earlier keep theirs
    if profile:
        own["profileData"] = profile
    return [*identities_of(primary), own, *linked_before]
