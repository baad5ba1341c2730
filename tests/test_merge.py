"""Command merge (server/flows/merge.py) as a table: commands of actions in order -> outcome."""

from __future__ import annotations

import pytest

from server.flows.merge import merge
from server.profiles.metadata import merge as merge_metadata


def actions(*command_lists):
    return [{"name": f"a{i}", "commands": commands} for i, commands in enumerate(command_lists)]


@pytest.mark.parametrize("flow, app_patch, user_patch", [
    # last write per key wins across actions
    (actions([["user.setAppMetadata", "plan", "free"]], [["user.setAppMetadata", "plan", "pro"]]), {"plan": "pro"}, {}),
    # null deletes, and stays a deletion in the patch
    (actions([["user.setAppMetadata", "a", 1], ["user.setAppMetadata", "a", None]]), {"a": None}, {}),
    # a later set after a delete wins
    (actions([["user.setUserMetadata", "x", None]], [["user.setUserMetadata", "x", {"deep": 1}]]), {}, {"x": {"deep": 1}}),
    # top level only: a nested object is carried whole, not merged
    (actions([["user.setAppMetadata", "prefs", {"a": 1, "b": 2}]], [["user.setAppMetadata", "prefs", {"c": 3}]]),
     {"prefs": {"c": 3}}, {}),
    # app and user metadata are separate namespaces
    (actions([["user.setAppMetadata", "k", 1], ["user.setUserMetadata", "k", 2]]), {"k": 1}, {"k": 2}),
    (actions([], []), {}, {}),
])
def test_metadata_patch(flow, app_patch, user_patch):
    outcome = merge(flow)
    assert outcome.app_metadata == app_patch
    assert outcome.user_metadata == user_patch


@pytest.mark.parametrize("stored, patch, result", [
    ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"x": 3}}, {"a": {"x": 3}}),
    ({}, {"missing": None}, {}),
    ({"a": 1}, {"b": [1, 2]}, {"a": 1, "b": [1, 2]}),
])
def test_applying_a_patch_to_a_stored_profile(stored, patch, result):
    assert merge_metadata(stored, patch) == result
    assert merge_metadata(merge_metadata(stored, patch), patch) == result  # idempotent


@pytest.mark.parametrize("commands, add, remove", [
    ([["accessToken.addScope", "read"], ["accessToken.addScope", "write"]], ["read", "write"], []),
    ([["accessToken.addScope", "read"], ["accessToken.removeScope", "read"]], [], ["read"]),
    ([["accessToken.removeScope", "read"], ["accessToken.addScope", "read"]], ["read"], []),
    ([["accessToken.addScope", "read"], ["accessToken.addScope", "read"]], ["read"], []),
])
def test_scopes_last_word_per_scope_wins(commands, add, remove):
    outcome = merge(actions(commands))
    assert (outcome.scopes_add, outcome.scopes_remove) == (add, remove)


def test_claims_last_write_wins_per_token():
    outcome = merge(actions(
        [["idToken.setCustomClaim", "c", 1], ["accessToken.setCustomClaim", "c", "at"]],
        [["idToken.setCustomClaim", "c", 2]],
    ))
    assert outcome.id_token_claims == {"c": 2}
    assert outcome.access_token_claims == {"c": "at"}


def test_deny_redirect_and_the_rest():
    outcome = merge(actions([
        ["access.deny", "why"],
        ["redirect.sendUserTo", "https://x.example.com", {"a": "1"}],
        ["multifactor.enable", {"provider": "any"}],
        ["authentication.challengeWith", {"type": "otp"}, [{"type": "phone"}]],
        ["authentication.setPrimaryUser", "auth0|2"],
        ["session.setExpiresAt", 2000], ["session.setExpiresAt", 1000],
        ["samlResponse.setAttribute", "email", "a@b"],
        ["cache.set", "k", {"value": "v", "expires_at": 1}], ["cache.delete", "k"],
    ]))
    assert outcome.deny_reason == "why"
    assert (outcome.redirect_url, outcome.redirect_query) == ("https://x.example.com", {"a": "1"})
    assert outcome.multifactor == {"provider": "any"}
    assert outcome.authentication == {"challenge": {"factors": [{"type": "otp"}, {"type": "phone"}]}, "primary_user": "auth0|2"}
    assert outcome.session == {"expires_at": 1000}  # the earliest expiry wins
    assert outcome.saml_attributes == {"email": "a@b"}
    assert (outcome.cache_set, outcome.cache_delete) == ({}, ["k"])
