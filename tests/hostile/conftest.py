"""Findings of this suite that are not fixed yet: each test still asserts the safe behaviour
and is reported as xfail with the finding, so the suite stays a live list of open work. When
one starts passing, remove its line here."""

from __future__ import annotations

import pytest

OPEN_FINDINGS = {
    "spread-a-large-typed-array": "F11b: object spread of a 1e7-element typed array (or string) is ~5-7 s of native "
                                  "code V8 neither interrupts nor stops at the heap limit (measured in a bare isolate: "
                                  "it completes after 6.8 s): the execution ends only when that code returns",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for needle, finding in OPEN_FINDINGS.items():
            if needle in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=f"open finding {finding}", strict=False))
                break
