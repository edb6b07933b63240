"""The bot outlasts any answer of the Bot API, against the real `kexue-notifier run` and `doctor`.

The local Bot API answers an HTML page where JSON belongs (a proxy's error page), and a redirect loop for
deleteWebhook, the first call of long polling: the service retries with backoff, logs the failure a few
times rather than once per attempt, and then answers readers. `doctor` reports such an answer in one line.
"""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_main import Cli
from tests.support.bot_api import BotApiServer, Fault
from tests.support.live_web import live_web


async def test_a_non_json_answer_and_a_redirect_loop_are_failures_retried_not_the_end_of_the_bot(
    tmp_path: Path, bot_api: BotApiServer
) -> None:
    bot_api.fail(Fault.not_json(), methods=["getMe"], times=2)
    # aiohttp follows ten redirects a call: three calls' worth of loops.
    bot_api.fail(Fault.redirect_loop(), methods=["deleteWebhook"], times=33)
    bot_api.fail(Fault.not_json(502), methods=["getUpdates"], times=3)
    env = {"TELEGRAM_BOT_TOKEN": bot_api.token, "TELEGRAM_API_BASE": bot_api.base_url, "LOG_LEVEL": "DEBUG"}
    async with live_web(tmp_path, env) as web:
        await web.service.wait_for_log("long polling", timeout=60)
        reader = bot_api.user("Reader", language_code="en")
        bot_api.send_text(reader, None, "/help")
        answer = await bot_api.wait_for_message(reader.id, timeout=60)
        assert "/latest" in answer.plain
        log = web.service.log()
    assert bot_api.counters["fault:not_json"] == 5 and bot_api.counters["fault:redirect"] == 33
    assert "ended" not in log and "Traceback" not in log
    # A line a minute per kind of failure, not one per attempt, each a short one.
    assert log.count("getMe and the command menu failed") == 1
    assert log.count("deleteWebhook failed") == 1
    assert log.count("Failed to fetch updates") <= 1
    assert max(len(line) for line in log.splitlines() if "failed" in line) < 500


async def test_doctor_says_in_one_line_that_the_bot_api_answered_no_json(
    tmp_path: Path, bot_api: BotApiServer
) -> None:
    bot_api.fail(Fault.not_json(), methods=["getMe"])
    env = {
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_API_BASE": bot_api.base_url,
        "KEXUE_SOURCES": "http://127.0.0.1:9/feed",
    }
    run = await Cli(tmp_path)("doctor", **env)
    assert run.code == 1 and "Traceback" not in run.stdout + run.stderr
    (line,) = [line for line in run.stdout.splitlines() if line.startswith("telegram")]
    assert "FAIL" in line and "ClientDecodeError" in line and len(line) < 400
    assert bot_api.token not in run.stdout + run.stderr
