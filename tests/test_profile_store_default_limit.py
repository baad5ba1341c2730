"""The Write-User limit's default: none on the embedded SQLite store (it would protect nothing:
the limit exists for a store other than ours), 50/s with a burst of 100 in front of a remote
profile store or PostgreSQL; --write-rate / --write-burst set it anywhere."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import ADMIN_TOKEN
from test_faults import make_server  # noqa: F401

from server.cli import build_parser
from server.settings import Settings, settings_from_args

pytestmark = pytest.mark.timeout(120)


def parsed(*argv: str) -> Settings:
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_the_write_limit_defaults_to_none_on_the_embedded_store_only():
    assert parsed().write_limit() is None
    assert parsed("--profile-store", "https://tenant.auth0.com").write_limit() == (50.0, 100)
    assert parsed("--database-url", "postgresql://db/actionhost").write_limit() == (50.0, 100)
    assert parsed("--write-rate", "5").write_limit() == (5.0, 100)
    assert parsed("--write-rate", "5", "--write-burst", "7").write_limit() == (5.0, 7)


async def test_a_burst_of_first_logins_on_the_embedded_store_is_not_rate_limited_by_default(make_server):
    """150 users created as fast as the API answers: none refused, no X-RateLimit headers (the
    old default, burst 100 then 50/s, refused the later ones)."""
    server = make_server()
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 timeout=60) as client:
        async def create(i: int) -> httpx.Response:
            return await client.post("/api/v2/users", json={"user_id": f"auth0|burst{i}", "connection": "db",
                                                            "email": f"u{i}@example.com"})
        answers = await asyncio.gather(*(create(i) for i in range(150)))
    assert [a.status_code for a in answers] == [201] * 150, {a.status_code for a in answers}
    assert not any("X-RateLimit-Limit" in a.headers for a in answers)


async def test_a_limit_set_by_flag_still_applies_on_the_embedded_store(make_server):
    server = make_server("--write-rate", "1", "--write-burst", "3")
    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                                 timeout=60) as client:
        answers = [await client.post("/api/v2/users", json={"user_id": f"auth0|lim{i}", "connection": "db"})
                   for i in range(5)]
    assert [a.status_code for a in answers][:3] == [201] * 3 and 429 in [a.status_code for a in answers]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
