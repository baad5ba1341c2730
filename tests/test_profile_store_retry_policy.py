"""The retry policy of the profile writer, as a table: the wait read from every form of reset
header real stores send, and the pause before each retry (server/profiles/retry_policy.py).
The same behaviour against a real scripted store: test_profile_store_write_path.py."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from server.profiles.retry_policy import (BACKOFF_CAP, FLOOR, has_rate_limit_headers, pause_after_failure,
                                          pause_after_rate_limit, requested_wait, store_clock_offset)

NOW = 1_800_000_000.25  # our clock, Unix seconds


def http_date(unix: float) -> str:
    return formatdate(unix, usegmt=True)


# (what, status, X-RateLimit-Reset values, Retry-After values, Date, the wait expected (None: nothing usable))
WAITS = [
    ("Auth0: Unix seconds ahead", 429, [str(int(NOW) + 3)], [], None, 2.75),
    ("Unix seconds, fractional", 429, [f"{NOW + 1.5:.3f}"], [], None, 1.5),
    ("Unix seconds in the past", 429, [str(int(NOW) - 30)], [], None, 0.0),
    ("negative", 429, ["-5"], [], None, 0.0),
    ("a delta", 429, ["2"], [], None, 2.0),
    ("a fractional delta", 429, ["0.5"], [], None, 0.5),
    ("zero", 429, ["0"], [], None, 0.0),
    ("Unix milliseconds (13 digits)", 429, [str(int(NOW * 1000) + 1500)], [], None, 1.5),
    ("duplicated in one header", 429, [f"{int(NOW) + 2}, {int(NOW) + 2}"], [], None, 1.75),
    ("repeated headers: the later", 429, [str(int(NOW) + 1), str(int(NOW) + 4)], [], None, 3.75),
    ("a word", 429, ["soon"], [], None, None),
    ("empty", 429, [""], [], None, None),
    ("NaN", 429, ["nan"], [], None, None),
    ("infinity", 429, ["1" * 400], [], None, None),
    ("twenty digits", 429, ["99999999999999999999"], [], None, None),
    ("Retry-After seconds", 429, [], ["120"], None, 120.0),
    ("Retry-After an HTTP date", 429, [], [http_date(int(NOW) + 10)], None, 9.75),
    ("Retry-After on a 503", 503, [], ["7"], None, 7.0),
    ("Retry-After nonsense", 429, [], ["tomorrow-ish"], None, None),
    ("Retry-After is not read on a 500", 500, [], ["7"], None, None),
    ("both present: the later (Retry-After)", 429, [str(int(NOW) + 1)], ["5"], None, 5.0),
    ("both present: the later (reset)", 429, [str(int(NOW) + 9)], ["5"], None, 8.75),
    ("store clock 10 minutes ahead", 429, [str(int(NOW) + 600 + 2)], [], http_date(NOW + 600), 2.0),
    ("store clock 10 minutes behind", 429, [str(int(NOW) - 600 + 2)], [], http_date(NOW - 600), 2.0),
    ("an HTTP date read on the store's clock", 429, [], [http_date(int(NOW) + 600 + 3)], http_date(NOW + 600), 3.0),
    ("a delta is a delta whatever its clock", 429, ["2"], [], http_date(NOW + 600), 2.0),
    ("Date within a second: our clock", 429, [str(int(NOW) + 3)], [], http_date(NOW), 2.75),
    ("a Date that is not a date", 429, [str(int(NOW) + 3)], [], "yesterday", 2.75),
]


@pytest.mark.parametrize("what,status,resets,retry_after,date,expected", WAITS, ids=[w[0] for w in WAITS])
def test_the_wait_a_store_asks_for(what, status, resets, retry_after, date, expected):
    wait = requested_wait(status, resets, retry_after, date, NOW)
    if expected is None:
        assert wait is None
    else:
        # read against a store's Date (whole seconds), a wait is exact to within that second
        assert wait == pytest.approx(expected, abs=1.0 if store_clock_offset(date, NOW) else 1e-6)


def test_a_store_clock_within_the_dates_resolution_is_read_as_ours():
    assert store_clock_offset(http_date(NOW), NOW) == 0.0
    assert store_clock_offset(http_date(NOW + 600), NOW) == pytest.approx(600, abs=1)
    assert store_clock_offset(None, NOW) == 0.0


@pytest.mark.parametrize("status,resets,retry_after,waited", [
    (429, [], [], True), (500, ["123"], [], True), (502, ["123"], [], True), (503, [], ["2"], True),
    (500, [], [], False), (503, [], [], False), (500, [], ["2"], False), (400, ["123"], [], False),
])
def test_which_answers_are_waited_out_like_a_429(status, resets, retry_after, waited):
    assert has_rate_limit_headers(status, resets, retry_after) is waited


@pytest.mark.parametrize("wait", [None, 0.0, 0.01, 0.2])
def test_no_retry_after_a_429_comes_before_the_floor(wait):
    rng = random.Random(7)
    for _ in range(200):
        assert pause_after_rate_limit(wait, 1, rng) >= FLOOR


def test_refusals_without_a_usable_reset_back_off_exponentially_up_to_the_cap():
    rng = random.Random(7)
    bases = [FLOOR * 2 ** (n - 1) for n in range(1, 5)] + [BACKOFF_CAP] * 3
    for streak, base in enumerate(bases, start=1):
        pauses = [pause_after_rate_limit(None, streak, rng) for _ in range(200)]
        assert min(pauses) >= min(base, BACKOFF_CAP)
        assert max(pauses) <= min(base, BACKOFF_CAP) * 1.1 + 0.05
        assert len({round(p, 6) for p in pauses}) > 100  # jittered: writers do not come back together


def test_a_usable_reset_is_waited_out_with_a_little_jitter():
    rng = random.Random(7)
    pauses = [pause_after_rate_limit(3.0, 5, rng) for _ in range(200)]
    assert 3.0 <= min(pauses) and max(pauses) <= 3.3


def test_transient_failures_back_off():
    rng = random.Random(7)
    for failures, base in ((1, 0.2), (2, 0.4), (3, 0.8)):
        assert base <= pause_after_failure(failures, rng) <= base * 1.1 + 0.05
