"""`kexue-notifier search QUERY [-n N] [--offset K] [--json]`: the archive, ranked."""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from typing import Any

from notifier.context import Context, UsageError, add_common, print_json, whole_number
from storage.db import database
from storage.search import MAX_LIMIT, QueryTooLongError, SearchHit, search


def format_hit(rank: int, hit: SearchHit, link_host: str) -> str:
    """Two readable lines for one hit: rank, date, title, link; then the snippet with marks in 【】."""
    post = hit.post
    head = f"{rank:>3}. {post.date.iso()}  {post.title}"
    url = post.url(link_host)
    if url:
        head += f"  {url}"
    snippet, pieces, last = hit.snippet, [], 0
    for start, end in hit.marks:
        pieces.append(snippet[last:start] + "【" + snippet[start:end] + "】")
        last = end
    pieces.append(snippet[last:])
    return head + "\n     " + "".join(pieces)


async def handler(args: argparse.Namespace, ctx: Context) -> int:
    """Search the stored archive and print the hits, best first."""
    if args.n > MAX_LIMIT:
        raise UsageError(f"-n must be at most {MAX_LIMIT}")
    async with database(ctx.db_path) as db:
        try:
            hits = await search(db, args.query, limit=args.n, offset=args.offset)
        except QueryTooLongError as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        results: list[dict[str, Any]] = [hit.to_json(ctx.link_host) for hit in hits]
        print_json(results)
        return 0
    if not hits:
        print("no posts match")
    for rank, hit in enumerate(hits, args.offset + 1):
        print(format_hit(rank, hit, ctx.link_host))
    return 0


_FLAGS = frozenset({"--json", "-h", "--help"})
_VALUED = frozenset({"-n", "--offset", "--db"})


def _is_option(token: str) -> bool:
    attached_count = token[:2] == "-n" and token[2:].isdigit()
    return token in _FLAGS or token.startswith(("--offset=", "--db=")) or attached_count


def prepare_argv(argv: Sequence[str]) -> list[str]:
    """`search`'s words with options first and the query after `--`, so a query may start with `-`.

    The query is data: `search -秩`, `search "--x"` or `search 梯度 LoRA` must search, not fail as options.
    Only this command's own options are options; every other word is query text, joined by spaces.
    """
    if not argv or argv[0] != "search":
        return list(argv)
    options: list[str] = []
    words: list[str] = []
    rest = iter(argv[1:])
    for token in rest:
        if token == "--":
            words.extend(rest)
        elif token in _VALUED:
            options.append(token)
            options.extend(itertools.islice(rest, 1))
        elif _is_option(token):
            options.append(token)
        else:
            words.append(token)
    return ["search", *options, *(["--", " ".join(words)] if words else [])]


def register(subparsers: Any) -> None:
    """Add the `search` command."""
    parser = subparsers.add_parser("search", help="search the archive (Chinese and English), best first")
    parser.add_argument("query", metavar="QUERY", help="words to look for (at most 200 characters)")
    parser.add_argument(
        "-n", type=whole_number(1), default=10, metavar="N", help="how many hits (default 10)"
    )
    parser.add_argument(
        "--offset", type=whole_number(0), default=0, metavar="K", help="skip the first K hits"
    )
    add_common(parser)
    parser.set_defaults(handler=handler)
