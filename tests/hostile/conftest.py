"""Findings of this suite that are not fixed yet: each test still asserts the safe behaviour
and is reported as xfail with the finding, so the suite stays a live list of open work. When
one starts passing, remove its line here."""

from __future__ import annotations

import pytest

OPEN_FINDINGS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for needle, finding in OPEN_FINDINGS.items():
            if needle in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=f"open finding {finding}", strict=False))
                break
