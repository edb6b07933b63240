"""`python -m tests.support.bot_api`."""

from tests.support.bot_api.cli import main

main()
