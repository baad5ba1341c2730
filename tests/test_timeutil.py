"""now_iso: the Management API's timestamp format, and the same instant datetime gives."""

import re
from datetime import datetime, timezone

from server.timeutil import now_iso

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_now_iso_is_utc_with_milliseconds_and_z():
    for _ in range(1000):
        assert ISO_MS.match(now_iso())


def test_now_iso_tells_the_same_time_as_datetime():
    before = datetime.now(timezone.utc)
    stamp = datetime.strptime(now_iso(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    after = datetime.now(timezone.utc)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= stamp <= after
