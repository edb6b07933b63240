"""Operations: backing up the live database and checking a deployment (`doctor`); data only, no printing."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import smtplib
import ssl
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from archive import ArchiveError
from archive.detect import detect, parse
from archive.fetch import Fetcher, redact_url
from archive.site import site_root
from notifier.config import Config
from notifier.errors import NotifierError
from storage import StorageError, maintenance
from storage.maintenance import DatabaseSummary

log = logging.getLogger(__name__)


class OpsError(NotifierError):
    """An operation the configuration makes impossible; reported as one line."""


async def backup(db_path: str, target: str | Path, *, force: bool = False) -> DatabaseSummary:
    """A consistent copy of the database at `db_path` written to `target` (replacing a file if `force`)."""
    if db_path == ":memory:":
        raise OpsError("KEXUE_DB is :memory:, which lives only inside one process: nothing to back up")
    return await maintenance.backup(db_path, target, overwrite=force)


# --- doctor ------------------------------------------------------------------------------------------

Status = Literal["ok", "off", "FAIL"]
# Long enough for a slow network, short enough that a dead host does not stall the check.
CHECK_TIMEOUT = 8.0


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """One line of `doctor`: what was checked, ok/off/FAIL, and what was found or how to fix it."""

    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        """Whether this check found something to fix."""
        return self.status == "FAIL"


@dataclasses.dataclass(frozen=True, slots=True)
class SmtpLogin:
    """What logging in to the mail server takes (the SMTP_* settings of the weekly email)."""

    host: str
    port: int
    security: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: SecretStr | None = None


def smtp_of(config: Config) -> SmtpLogin | None:
    """The SMTP_* settings, or None when SMTP_HOST is unset (email is off)."""
    mail = config.mail
    if not mail.smtp_host:
        return None
    security = mail.smtp_security.lower()
    default_port = {"tls": 465, "none": 25}.get(security, 587)
    return SmtpLogin(
        host=mail.smtp_host,
        port=mail.smtp_port or default_port,
        security=security,
        user=mail.smtp_user or None,
        password=None if mail.smtp_password is None else SecretStr(mail.smtp_password),
    )


def settings_summary(config: Config) -> str:
    """The effective settings in one line, never a secret (the token only as on/off)."""
    parts = [
        f"KEXUE_DB={config.db_path}",
        f"{len(config.sources)} source{'' if len(config.sources) == 1 else 's'}",
        f"POLL_INTERVAL={config.poll_interval}s",
        f"TIME_ZONE={config.tz.key}",
        f"LINK_HOST={config.link_host}",
        f"bot {'on' if config.telegram else 'off'}",
    ]
    if config.telegram:
        parts.append(f"SEND_RATE={config.send_rate:g}/s")
    if config.channel_id:
        parts.append(f"CHANNEL_ID={config.channel_id}")
    admins = tuple(getattr(config, "admin_ids", ()))
    parts.append(f"{len(admins)} admin{'' if len(admins) == 1 else 's'}")
    alert_after = getattr(config, "alert_after", None)
    if alert_after is not None:
        parts.append(f"ALERT_AFTER={alert_after}")
    return ", ".join(parts)


async def check_database(db_path: str) -> Check:
    """The file opens, its migrations are current, it passes quick_check, and this user can write it."""
    if db_path == ":memory:":
        return Check("database", "ok", "in memory: nothing is kept between runs")
    if not Path(db_path).exists():
        return Check(
            "database",
            "FAIL",
            f"{db_path} does not exist: check KEXUE_DB (or --db), or start the service once to create it",
        )
    try:
        found = await maintenance.health(db_path)
    except StorageError as exc:
        return Check("database", "FAIL", f"{exc}: restore the latest backup (kexue-notifier backup)")
    if found.quick_check != "ok":
        return Check(
            "database",
            "FAIL",
            f"{db_path} is damaged ({found.quick_check[:200]}): "
            "stop the service and restore the latest backup",
        )
    if found.migrations_pending < 0:
        return Check(
            "database",
            "FAIL",
            f"{db_path} has schema version {found.schema_version}, newer than this release knows "
            f"({found.expected_version}): install the release that wrote it",
        )
    if found.migrations_pending > 0:
        return Check(
            "database",
            "FAIL",
            f"{db_path} has schema version {found.schema_version}, this release needs "
            f"{found.expected_version}: back up (kexue-notifier backup PATH), then start the service, "
            "which migrates at start",
        )
    if found.write_error is not None:
        return Check(
            "database",
            "FAIL",
            f"{db_path} cannot be written ({found.write_error}): the service user must own the file and "
            "its directory (and no other process may hold the write lock for long)",
        )
    return Check(
        "database", "ok", f"{db_path}: schema version {found.schema_version} (current), intact, writable"
    )


async def check_source(source: str, tz: ZoneInfo, timeout: float = CHECK_TIMEOUT) -> Check:
    """The source answers (or a file source is readable) and holds posts we can read."""
    shown = redact_url(source)
    async with Fetcher(timeout=timeout) as fetcher:
        try:
            result = await fetcher.fetch(source)
        except ArchiveError as exc:
            how = (
                "check the path in KEXUE_SOURCES"
                if site_root(source) is None
                else ("check KEXUE_SOURCES, the network and any proxy")
            )
            return Check("blog", "FAIL", f"{exc}: {how}")
    try:
        kind = detect(result.content or b"")
        posts = parse(result.content or b"", tz=tz)
    except ArchiveError as exc:
        return Check(
            "blog",
            "FAIL",
            f"{shown} answers, but not with posts ({exc}): check that KEXUE_SOURCES names "
            "the feed, a listing page or /content.html",
        )
    return Check("blog", "ok", f"{shown}: {kind}, {len(posts)} post{'' if len(posts) == 1 else 's'}")


async def check_bot(config: Config, timeout: float = CHECK_TIMEOUT) -> Check:
    """getMe at TELEGRAM_API_BASE with TELEGRAM_BOT_TOKEN; off without a token."""
    telegram = config.telegram
    if telegram is None:
        return Check("telegram", "off", "bot off: no TELEGRAM_BOT_TOKEN (polling and the archive still run)")
    base = telegram.api_base
    # Imported here: the other checks never load aiogram.
    from notifier.telegram import BotUnauthorized, BotUnreachable, InvalidToken, who_am_i

    try:
        name, bot_id = await who_am_i(telegram, timeout)
    except InvalidToken:
        return Check(
            "telegram",
            "FAIL",
            "TELEGRAM_BOT_TOKEN is not a bot token (digits, a colon, then letters): copy it from @BotFather",
        )
    except BotUnauthorized:
        return Check(
            "telegram",
            "FAIL",
            f"{base} refused TELEGRAM_BOT_TOKEN (401 Unauthorized): the token was "
            "revoked or mistyped; copy the current one from @BotFather",
        )
    except BotUnreachable as exc:
        return Check(
            "telegram",
            "FAIL",
            f"cannot reach the Bot API at {base} ({exc}): check TELEGRAM_API_BASE and the network",
        )
    return Check("telegram", "ok", f"{name} (id {bot_id}) at {base}")


def _smtp_login(login: SmtpLogin, timeout: float) -> None:
    client: smtplib.SMTP
    if login.security == "tls":
        client = smtplib.SMTP_SSL(
            login.host, login.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(login.host, login.port, timeout=timeout)
    with client:
        client.ehlo()
        if login.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if login.user:
            password = login.password.get_secret_value() if login.password else ""
            client.login(login.user, password)


async def check_smtp(login: SmtpLogin | None, timeout: float = CHECK_TIMEOUT) -> Check:
    """Connect to SMTP_HOST, secure the connection as SMTP_SECURITY says, and log in; off without a host."""
    if login is None:
        return Check("email", "off", "email off: no SMTP_HOST")
    where = f"{login.host}:{login.port} ({login.security})"
    try:
        # smtplib blocks; a thread keeps the event loop free, and the timeout bounds every step.
        await asyncio.to_thread(_smtp_login, login, timeout)
    except smtplib.SMTPAuthenticationError as exc:
        return Check(
            "email",
            "FAIL",
            f"{where} refused the login of {login.user} ({exc.smtp_code}): check SMTP_USER and SMTP_PASSWORD",
        )
    except smtplib.SMTPNotSupportedError as exc:
        return Check("email", "FAIL", f"{where}: {exc}: set SMTP_SECURITY to what the server offers")
    except (smtplib.SMTPException, ssl.SSLError) as exc:
        return Check(
            "email", "FAIL", f"{where}: {type(exc).__name__}: {exc}: check SMTP_SECURITY and SMTP_PORT"
        )
    except OSError as exc:
        return Check(
            "email",
            "FAIL",
            f"cannot connect to {where}: {exc.strerror or exc}: check SMTP_HOST, SMTP_PORT and the network",
        )
    who = f" as {login.user}" if login.user else " (no login configured)"
    if login.user and login.security == "none":
        # It works, and anyone on the way reads the password: said, not failed.
        who += "; warning: the password crosses a plaintext connection (set SMTP_SECURITY to starttls or tls)"
    return Check("email", "ok", f"{where}: connected{who}")


async def doctor(config: Config, db_path: str, *, timeout: float = CHECK_TIMEOUT) -> list[Check]:
    """Every check, in the order a person fixes things: settings, database, blog, Telegram, email."""
    # The command's app runs on an in-memory store; the file to report and inspect is `db_path`.
    config = dataclasses.replace(config, db_path=db_path)
    checks = [Check("settings", "ok", settings_summary(config)), await check_database(db_path)]
    network = await asyncio.gather(
        *(check_source(source, config.tz, timeout) for source in config.sources),
        check_bot(config, timeout),
        check_smtp(smtp_of(config), timeout),
    )
    return checks + list(network)
