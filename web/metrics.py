"""`GET /metrics`: the service's state in Prometheus' text format, read from the database at scrape time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from archive.fetch import redact_url
from notifier.services import MetricsSnapshot, Services
from storage.counters import (
    EMAILS_BOUNCED,
    EMAILS_SENT,
    MESSAGES_FAILED,
    MESSAGES_SENT,
    REPLIES_DROPPED,
    TELEGRAM_429,
)
from storage.deliveries import STATUSES

# Reasons a Telegram attempt fails, shown at zero until they happen (a rate() over a missing series is empty).
FAILURE_REASONS = (
    "429",
    "blocked",
    "chat_not_found",
    "migrated",
    "bad_request",
    "server_error",
    "network",
    "api_error",
    "render",
    "internal",
)


CHANNELS = ("telegram", "email")
DELIVERY_STATES = STATUSES


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
    # Every channel and state, 0 included, so a dashboard's series exist before the first message.
    depth: dict[tuple[str, str], int] = {(c, state): 0 for c in CHANNELS for state in DELIVERY_STATES}
    depth.update(snapshot.deliveries)
    for (channel, state), count in sorted(depth.items()):
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
    watching = GaugeMetricFamily("kexue_readers_with_watches", "Telegram readers watching any words (/watch)")
    watching.add_metric([], snapshot.readers_with_watches)
    return [posts, last, failures, readers, watching, outbox, dead, emails, *counter_families(snapshot)]


def counter_families(snapshot: MetricsSnapshot) -> list[Metric]:
    """The event counters persisted in the database, as Prometheus counters (exposed with `_total`)."""
    counts = snapshot.counters

    def plain(name: str, key: str, help_text: str) -> CounterMetricFamily:
        family = CounterMetricFamily(name, help_text)
        family.add_metric([], counts.get((key, ""), 0))
        return family

    failed = CounterMetricFamily(
        "kexue_messages_failed",
        "Unsuccessful Telegram send attempts by reason (a retried message counts each failed attempt)",
        labels=["reason"],
    )
    reasons = dict.fromkeys(FAILURE_REASONS, 0)
    reasons.update({label: n for (name, label), n in counts.items() if name == MESSAGES_FAILED})
    for reason, count in reasons.items():
        failed.add_metric([reason or "unknown"], count)
    return [
        plain("kexue_messages_sent", MESSAGES_SENT, "Telegram messages delivered by the sender"),
        failed,
        plain("kexue_telegram_429", TELEGRAM_429, "429 Too Many Requests answers to the sender"),
        plain(
            "kexue_replies_dropped",
            REPLIES_DROPPED,
            "Bot replies dropped because they could not go out before their deadline",
        ),
        plain("kexue_emails_sent", EMAILS_SENT, "Weekly emails accepted by the SMTP server"),
        plain(
            "kexue_emails_bounced", EMAILS_BOUNCED, "Weekly emails refused for good (5xx) by the SMTP server"
        ),
    ]


def metrics_handler(
    services: Services, token: str | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The `/metrics` handler over these services: only `Authorization: Bearer <token>` reads it, and
    without a token it does not exist (404), like any unknown path."""
    expected = f"Bearer {token}".encode() if token else None

    async def metrics(request: web.Request) -> web.Response:
        if expected is None:
            raise web.HTTPNotFound()
        sent = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(sent, expected):
            return web.Response(
                status=401,
                text="401: /metrics needs Authorization: Bearer <METRICS_TOKEN>\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Snapshot(families(await services.admin.metrics())))
        return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
