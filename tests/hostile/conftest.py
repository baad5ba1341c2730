"""Findings of this suite that are not fixed yet: each test still asserts the safe behaviour
and is reported as xfail with the finding, so the suite stays a live list of open work. When
one starts passing, remove its line here."""

from __future__ import annotations

import pytest

OPEN_FINDINGS = {
    "test_a_memory_failure_caused_by_recorded_values_names_the_action_that_recorded_them":
        "F12: a memory failure is blamed on the action running when the heap limit is seen, not the one that queued the values",
    "nested-100000-deep": "F7b: a result nested deeper than the host's JSON parser allows fails every execution of the step",
    "nested-1100-deep": "F7b: a result nested deeper than the host's JSON parser allows fails every execution of the step",
    "test_prepare_stack_trace.py::": "Error is now sealed: setting Error.prepareStackTrace fails the execution "
                                     "(these tests expect it to be allowed and only its reach limited)",
    "test_an_output_flood_does_not_stall_the_front_end": "F10: results have no size cap; a 12 MB error message stalls the front end",
    "ten_megabyte_strings_are_recorded_whole_or_refused_clearly[claim]":
        "F10: results have no size cap; 10 MB claims slow a bystander on a busy box (intermittent)",
    "a-million-api-calls": "F12: a million api calls exhaust the heap without naming the action or counting a quarantine strike",
    "console-log-a-large-typed-array": "F11: console formatting walks every key of a large typed array, past the budget",
    "keys-of-a-large-typed-array": "F11: Object.getOwnPropertyNames of a large typed array is a native walk V8 cannot interrupt",
    "test_leftover_async_work_never_runs_inside_the_next_execution":
        "F5: async work left running by a finished execution runs (and logs, and sets timers) inside the next one",
    "accessor-lies-to-the-check": "F2: an accessor that answers the tamper check with the original value hides the change",
    "api.idToken.setCustomClaim": "F3: replacing api methods is refused now (frozen prototypes) but not reported as the test expects",
    "api.user.setAppMetadata": "F3: replacing api methods is refused now (frozen prototypes) but not reported as the test expects",
    "tamper-then-time-out": "F1b: built-ins changed by an action that then times out are reported as the timeout, not the change",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for needle, finding in OPEN_FINDINGS.items():
            if needle in item.nodeid:
                item.add_marker(pytest.mark.xfail(reason=f"open finding {finding}", strict=False))
                break
