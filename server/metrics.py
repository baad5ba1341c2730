"""GET /metrics in Prometheus' text format: executions by status and error class, execution
latency, actions' outbound requests, profile writes and 429 retries, isolate recycles, executor
restarts, quarantined flows, dropped execution records. One registry per application."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.executions = Counter("actionhost_executions", "Trigger executions by outcome",
                                  ["trigger", "status", "error_class"], registry=self.registry)
        self.latency = Histogram("actionhost_execution_seconds", "Wall time of a trigger execution, profile write included",
                                 ["trigger"], buckets=LATENCY_BUCKETS, registry=self.registry)

        self.egress = Counter("actionhost_egress_requests", "Outbound requests of actions by outcome "
                              "(ok, denied, error, timeout, too_large, aborted)", ["outcome"], registry=self.registry)
        self.egress_latency = Histogram("actionhost_egress_seconds", "Wall time of an action's outbound request",
                                        buckets=LATENCY_BUCKETS, registry=self.registry)

    def observe_egress(self, requests: list[dict[str, Any]]) -> None:
        """The outbound requests of one action, as its result lists them (runtime_js/48_fetch.js)."""
        for request in requests:
            if not isinstance(request, dict):
                continue
            self.egress.labels(str(request.get("outcome", "error"))[:16]).inc()
            duration = request.get("duration_ms")
            if isinstance(duration, (int, float)) and duration >= 0:
                self.egress_latency.observe(duration / 1000.0)

    def observe(self, trigger: str, status: str, error_class: str | None, seconds: float) -> None:
        self.executions.labels(trigger, status, error_class or "").inc()
        self.latency.labels(trigger).observe(seconds)

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)


class RuntimeCollector(Collector):
    """Figures owned by other parts (sandbox supervisor, profile writer, execution log), read
    at scrape time rather than copied on every event."""

    def __init__(self, sandbox: Any, writer: Any, log: Any, sqlite: Any = None) -> None:
        self._sandbox = sandbox
        self._writer = writer
        self._log = log
        self._sqlite = sqlite

    def collect(self) -> Iterator[Any]:
        supervisor = self._sandbox.supervisor
        status = supervisor.status()
        yield CounterMetricFamily("actionhost_isolate_recycles", "Isolates destroyed and rebuilt (spinning code, memory, tampering)",
                                  value=sum(s.get("recycles", 0) for s in status))
        yield CounterMetricFamily("actionhost_executor_restarts", "Executor processes replaced (died, too big, unresponsive)",
                                  value=supervisor.replacements)
        yield GaugeMetricFamily("actionhost_executor_rss_bytes", "Resident memory of all executors", value=sum(s["rss"] for s in status))
        yield GaugeMetricFamily("actionhost_warm_isolates", "Isolates kept warm in all executors",
                                value=sum(s.get("isolates", 0) for s in status))
        yield GaugeMetricFamily("actionhost_quarantined_flows", "Flows failing fast until redeployed",
                                value=len(supervisor.quarantine.listing()))
        yield CounterMetricFamily("actionhost_profile_writes", "Profile writes applied", value=self._writer.writes)
        yield CounterMetricFamily("actionhost_profile_write_429_retries", "Profile store answers of 429 that were retried",
                                  value=self._writer.retries_429)
        yield CounterMetricFamily("actionhost_execution_records_dropped", "Execution records dropped because the queue was full",
                                  value=self._log.dropped)
        if self._sqlite is not None:
            # writes / commits is how many writes each group commit (one fsync) carried
            yield CounterMetricFamily("actionhost_sqlite_commits", "Transactions committed by the embedded store's writer",
                                      value=self._sqlite.commits)
            yield CounterMetricFamily("actionhost_sqlite_writes", "Writes committed by the embedded store's writer",
                                      value=self._sqlite.writes)


METRICS = web.AppKey("metrics", Metrics)


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
