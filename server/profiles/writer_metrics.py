"""The profile writer's figures in /metrics: store calls by outcome and the write slots, read at
scrape time from the writer (nothing is copied per call)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# every outcome a call can have, so each series exists (at 0) from the first scrape
OUTCOMES = ("ok", "rate_limited", "server_error", "timeout", "unreachable", "connection_lost", "tls", "redirect",
            "rejected", "unauthorized", "too_large", "bad_answer", "unavailable")


class WriterCollector(Collector):
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def collect(self) -> Iterator[Any]:
        calls = CounterMetricFamily("actionhost_profile_store_calls", "Calls to the profile store by outcome (ok, "
                                    "rate_limited, server_error, timeout, unreachable, connection_lost, tls, redirect, "
                                    "rejected, unauthorized, too_large, bad_answer, unavailable)", labels=["outcome"])
        counted = self._writer.calls
        for outcome in dict.fromkeys((*OUTCOMES, *counted)):
            calls.add_metric([outcome], counted.get(outcome, 0))
        yield calls
        slots = self._writer.slots
        yield GaugeMetricFamily("actionhost_profile_write_slots_in_use", "Write slots held by requests on their way "
                                "to the profile store", value=sum(slots.in_use.values()))
        yield GaugeMetricFamily("actionhost_profile_write_slots_waiting", "Writes waiting for a write slot",
                                value=slots.waiting())
