"""`python -m tests.support.bot_api`: the double in the foreground, for the demo and manual tries."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from tests.support.bot_api import start_bot_api
from tests.support.bot_api.faults import RateLimits
from tests.support.bot_api.models import DEFAULT_TOKEN


async def _serve(port: int, token: str, limits: bool) -> None:
    server = await start_bot_api(token, port=port, rate_limits=RateLimits() if limits else None)
    print(f"TELEGRAM_API_BASE={server.base_url}\nTELEGRAM_BOT_TOKEN={server.token}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground until interrupted (for the demo and manual tries)."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.bot_api", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--rate-limits", action="store_true", help="enforce Telegram's sending limits")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token, args.rate_limits))


if __name__ == "__main__":
    main()
