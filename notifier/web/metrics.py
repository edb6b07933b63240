"""`GET /metrics`: the service's state in Prometheus' text format, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from archive.fetch import redact_url
from notifier.services import MetricsSnapshot, Services


class _Snapshot(Collector):
    """Hands prometheus_client the families built from one snapshot (collection itself is synchronous)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def _timestamp(value: str | None) -> float | None:
    return None if value is None else datetime.fromisoformat(value).timestamp()


def families(snapshot: MetricsSnapshot) -> list[Metric]:
    """The metric families of one snapshot."""
    posts = GaugeMetricFamily("kexue_posts", "Posts known to the store")
    posts.add_metric([], snapshot.posts)
    last = GaugeMetricFamily(
        "kexue_source_last_success_timestamp_seconds", "When each source was last read", labels=["source"]
    )
    failures = GaugeMetricFamily(
        "kexue_source_consecutive_failures",
        "Failed reads of each source since its last success",
        labels=["source"],
    )
    for source in snapshot.sources:
        name = redact_url(source.url)
        when = _timestamp(source.last_success_at)
        if when is not None:
            last.add_metric([name], when)
        failures.add_metric([name], source.failures)
    readers = GaugeMetricFamily("kexue_subscribers", "Telegram readers by delivery mode", labels=["mode"])
    for mode, count in snapshot.subscribers.active.items():
        readers.add_metric([mode], count)
    readers.add_metric(["inactive"], snapshot.subscribers.inactive)
    outbox = GaugeMetricFamily(
        "kexue_deliveries",
        "Delivery rows by channel and state (sent and failed count messages)",
        labels=["channel", "state"],
    )
    for (channel, state), count in sorted(snapshot.deliveries.items()):
        outbox.add_metric([channel, state], count)
    dead = GaugeMetricFamily(
        "kexue_deliveries_dead", "Telegram messages given up on, by reason", labels=["reason"]
    )
    for reason, count in sorted(snapshot.dead_by_reason.items()):
        dead.add_metric([reason or "unknown"], count)
    emails = GaugeMetricFamily(
        "kexue_email_addresses", "Email addresses by state (bounced included)", labels=["state"]
    )
    for state, count in sorted(snapshot.emails.items()):
        emails.add_metric([state], count)
    return [posts, last, failures, readers, outbox, dead, emails]


def metrics_handler(services: Services) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `/metrics` handler over these services."""

    async def metrics(request: web.Request) -> web.Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(families(await services.metrics())))
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
