"""`kexue-notifier search QUERY [-n N] [--offset K] [--json]`: the archive, ranked."""

from __future__ import annotations

import argparse
from typing import Any

from cli.context import CommandWords, add_common, print_json, whole_number
from notifier.bootstrap import App
from notifier.services import MAX_OFFSET
from storage.search import MAX_LIMIT, SearchHit


def format_hit(rank: int, hit: SearchHit, link_host: str) -> str:
    """Two readable lines for one hit: rank, date, title, link; then the snippet with marks in 【】."""
    post = hit.post
    head = f"{rank:>3}. {post.date.shown()}  {post.title}"
    url = post.url(link_host)
    if url:
        head += f"  {url}"
    snippet, pieces, last = hit.snippet, [], 0
    for start, end in hit.marks:
        pieces.append(snippet[last:start] + "【" + snippet[start:end] + "】")
        last = end
    pieces.append(snippet[last:])
    return head + "\n     " + "".join(pieces)


async def handler(args: argparse.Namespace, app: App) -> int:
    """Search the stored archive and print the hits, best first."""
    hits = await app.services.archive.search(args.query, limit=args.n, offset=args.offset)
    link_host = app.config.link_host
    if args.json:
        results: list[dict[str, Any]] = [hit.to_json(link_host) for hit in hits]
        print_json(results)
        return 0
    if not hits:
        print("no posts match" if await app.services.archive.post_count() else "no posts stored yet")
    for rank, hit in enumerate(hits, args.offset + 1):
        print(format_hit(rank, hit, link_host))
    return 0


# The query is data: `search -秩` or `search 梯度 LoRA` searches, and never fails as an option.
WORDS = (
    CommandWords(
        "search", frozenset({"--json", "-h", "--help"}), frozenset({"-n", "--offset", "--db"}), join=True
    ),
)


def register(subparsers: Any) -> None:
    """Add the `search` command."""
    parser = subparsers.add_parser("search", help="search the archive (Chinese and English), best first")
    parser.add_argument("query", metavar="QUERY", help="words to look for (at most 200 characters)")
    parser.add_argument(
        "-n",
        type=whole_number(1, MAX_LIMIT),
        default=10,
        metavar="N",
        help=f"how many hits (default 10, at most {MAX_LIMIT})",
    )
    parser.add_argument(
        "--offset",
        type=whole_number(0, MAX_OFFSET),
        default=0,
        metavar="K",
        help=f"skip the first K hits (at most {MAX_OFFSET})",
    )
    add_common(parser)
    parser.set_defaults(handler=handler, store="read")
