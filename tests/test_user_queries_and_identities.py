"""The pure parts of the users API: which `q` searches actionhost answers (exactly, or not at
all), `fields`, and how linking two accounts rearranges identities."""

from __future__ import annotations

import pytest

from server.errors import APIError
from server.http.users import parse_sort, parse_user_query, select_fields
from server.profiles.identities import identities_of, linked_identities, split_user_id


@pytest.mark.parametrize("q, expected", [
    ('email:"sam@example.com"', ("email", "sam@example.com")),
    ("email:sam@example.com", ("email", "sam@example.com")),
    ('  user_id : "auth0|42"  ', ("user_id", "auth0|42")),
    ('user_id:"a \\"quoted\\" id"', ("user_id", 'a "quoted" id')),
    ('email:"a*b@example.com"', ("email", "a*b@example.com")),  # quoted: a phrase, no wildcard
])
def test_queries_answered_exactly(q, expected):
    assert parse_user_query(q) == expected


@pytest.mark.parametrize("q", [
    "sam@example.com", "name:sam", "email:*@example.com", "email:sam*", 'email:"a" AND user_id:"b"',
    'email:"a" OR email:"b"', "email:(a b)", "logins_count:[1 TO 5]", "user_id:", 'email:"unterminated',
    "app_metadata.plan:free", "x" * 2000,
])
def test_queries_refused_rather_than_answered_wrongly(q):
    with pytest.raises(APIError) as caught:
        parse_user_query(q)
    assert caught.value.status == 400 and caught.value.error_code == "invalid_query_string"


def test_sort():
    assert parse_sort(None) == ("created_at", True)
    assert parse_sort("updated_at:-1") == ("updated_at", False)
    for bad in ("email:1", "created_at", "created_at:2", "user_id:-1:1"):
        with pytest.raises(APIError):
            parse_sort(bad)


def test_fields_include_or_exclude():
    user = {"user_id": "auth0|1", "email": "a@b.c", "app_metadata": {}}
    assert select_fields(user, None, None) is user
    assert select_fields(user, "email, user_id", None) == {"user_id": "auth0|1", "email": "a@b.c"}
    assert select_fields(user, "email", "false") == {"user_id": "auth0|1", "app_metadata": {}}


def test_a_users_identity_comes_from_its_id_when_none_is_stored():
    assert split_user_id("google-oauth2|123") == ("google-oauth2", "123")
    assert split_user_id("plain") == ("auth0", "plain")
    assert split_user_id("samlp|corp|sam") == ("samlp", "corp|sam")
    assert identities_of({"user_id": "google-oauth2|123"}) == [
        {"connection": "google-oauth2", "provider": "google-oauth2", "user_id": "123", "isSocial": True}]
    assert identities_of({"user_id": "auth0|1", "connection": "Username-Password-Authentication"}) == [
        {"connection": "Username-Password-Authentication", "provider": "auth0", "user_id": "1", "isSocial": False}]
    stored = [{"connection": "c", "provider": "auth0", "user_id": "1", "isSocial": False}]
    assert identities_of({"user_id": "auth0|1", "identities": stored}) == stored


def test_linking_appends_the_secondarys_identities_with_its_profile():
    primary = {"user_id": "auth0|1", "identities": [{"connection": "db", "provider": "auth0", "user_id": "1", "isSocial": False}]}
    earlier = {"connection": "github", "provider": "github", "user_id": "9", "isSocial": True, "profileData": {"nickname": "old"}}
    secondary = {"user_id": "google-oauth2|2", "email": "s@gmail.com", "app_metadata": {"lost": 1}, "user_metadata": {},
                 "created_at": "t", "updated_at": "t", "connection": "google-oauth2",
                 "identities": [{"connection": "google-oauth2", "provider": "google-oauth2", "user_id": "2", "isSocial": True},
                                earlier]}
    assert linked_identities(primary, secondary) == [
        primary["identities"][0],
        {"connection": "google-oauth2", "provider": "google-oauth2", "user_id": "2", "isSocial": True,
         "profileData": {"email": "s@gmail.com"}},
        earlier,
    ]
