"""Alerts to the admins about a failing source: one after ALERT_AFTER failures in a row, one on recovery.

An alert is a delivery row (kind `alert`) enqueued in the very transaction that records the failure or the
success, so the sender delivers it with its usual rate limits and retries. Its item names the source and the
failure episode (the source's last success before the failures began): UNIQUE(channel, recipient, item) then
lets each admin get one "down" and one "up" message per episode, however many polls fail, however many
processes poll.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from archive.fetch import redact_url
from digest.i18n import Translations
from storage.sources import SourceState
from storage.uow import Stores

log = logging.getLogger(__name__)

ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Who hears of a failing source (ADMIN_IDS) and after how many failures in a row (ALERT_AFTER)."""

    admin_ids: tuple[int, ...] = ()
    after: int = 3


def _episode(source: str, before: SourceState) -> str:
    # The source as shown (no password) and the success the failures followed: stable across polls.
    return f"{redact_url(source)}@{before.last_success_at or 'never'}"


async def _enqueue(
    uow: Stores, policy: AlertPolicy, item: str, facts: dict[str, object], now: datetime
) -> int:
    payload = json.dumps(facts, ensure_ascii=False)
    queued = 0
    for admin in policy.admin_ids:
        queued += await uow.deliveries.enqueue(str(admin), item, "alert", now, payload=payload)
    return queued


async def on_failure(
    uow: Stores,
    policy: AlertPolicy | None,
    source: str,
    before: SourceState,
    failures: int,
    error: str,
    now: datetime,
) -> int:
    """In the failure's transaction: queue the "down" alert once `failures` reaches the policy's count."""
    if policy is None or not policy.admin_ids or failures < policy.after:
        return 0
    facts: dict[str, object] = {
        "source": redact_url(source),
        "failures": failures,
        "error": error[:ERROR_CHARS],
        "since": before.last_success_at,
    }
    queued = await _enqueue(uow, policy, f"alert:down:{_episode(source, before)}", facts, now)
    if queued:
        log.warning(
            "source %s: %d failures in a row; alert queued for %d admin(s)", facts["source"], failures, queued
        )
    return queued


async def on_success(
    uow: Stores, policy: AlertPolicy | None, source: str, before: SourceState, now: datetime
) -> int:
    """In the success's transaction: queue the "up" alert when the failures had reached the policy's count."""
    if policy is None or not policy.admin_ids or before.failures < policy.after:
        return 0
    facts: dict[str, object] = {"source": redact_url(source), "failures": before.failures}
    queued = await _enqueue(uow, policy, f"alert:up:{_episode(source, before)}", facts, now)
    if queued:
        log.info("source %s works again; recovery alert queued for %d admin(s)", facts["source"], queued)
    return queued


def alert_html(translations: Translations, lang: str, item: str, payload: str | None) -> str:
    """The Telegram HTML of an alert row, in the admin's language; every fact escaped."""
    facts = json.loads(payload or "{}")
    source = html.escape(str(facts.get("source", "?")))
    failures = int(facts.get("failures", 0))
    if item.startswith("alert:up:"):
        return translations.ngettext(
            lang,
            "✅ %(source)s works again after %(num)s failed poll.",
            "✅ %(source)s works again after %(num)s failed polls.",
            failures,
            source=source,
        )
    return translations.ngettext(
        lang,
        "⚠️ %(source)s has failed %(num)s time in a row. Last error: %(error)s",
        "⚠️ %(source)s has failed %(num)s times in a row. Last error: %(error)s",
        failures,
        source=source,
        error=html.escape(str(facts.get("error", ""))),
    )
