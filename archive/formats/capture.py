"""Plain-text captures of listing pages (a browser's text rendering): category/search and homepage layouts.

Captures carry no links, so posts have no id; they fold the site's punctuation to ASCII, so titles are
kept exactly as captured and marked `title_is_live=False`.
"""

from __future__ import annotations

import re
from datetime import date

from archive import ParseError
from archive.formats._errors import guarded
from archive.formats._text import clean_excerpt, decode_page
from archive.model import Post, PostDate

__all__ = ["looks_like_capture", "parse_capture"]

# `By 苏剑林 | 2024-09-01 | 26991位读者 | 引用` with the first excerpt line glued right after `引用`.
_BYLINE = re.compile(
    r"^\s*By\s+\S.*?\s*[|｜]\s*(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\s*[|｜]\s*"
    r"(?P<readers>\d[\d,]*)\s*位读者(?:\s*[|｜]\s*(?:引用)?)?(?P<rest>.*)$"
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
# The homepage badge on a line of its own: `17 Aug`.
_BADGE = re.compile(r"^\s*(?P<d>\d{1,2})\s+(?P<m>[A-Za-z]{3})\s*$")
_READ_MORE = re.compile(r"^\s*点击阅读全文")
_FOOTER = re.compile(r"^\s*最近评论\s*$")
# What a byline cut short looks like. Mid-page only a name, a bar and the date's first digit count; as
# the very last line even `By 苏` does (a cut inside the name), but not `By the way, …`.
_BYLINE_START = re.compile(r"^\s*By\s+[^|｜\n]{1,40}[|｜]\s*\d")
_BYLINE_PREFIX = re.compile(r"^\s*By\s+[^|｜\s]{1,20}\s*(?:[|｜].*)?$")
# The page navigator as the capture renders it: page numbers, ellipses, arrows and "next page" words.
_NAV_WORDS = r"上一页|下一页|前一页|后一页|上页|下页|首页|尾页|末页|prev(?:ious)?|next|older|newer"
_PAGE_ITEMS = re.compile(rf"^\s*(?:(?:\d{{1,5}}|…+|\.{{2,}}|[«»‹›<>]+|{_NAV_WORDS})\s*)+$", re.I)
_PAGE_WORD = re.compile(rf"[«»‹›<>]|{_NAV_WORDS}", re.I)


def _badge(line: str) -> PostDate | None:
    """The yearless date of a `17 Aug` line, or None."""
    match = _BADGE.match(line)
    if match is None or match.group("m").lower() not in _MONTHS:
        return None
    month = _MONTHS.index(match.group("m").lower()) + 1
    day = int(match.group("d"))
    try:
        # 2000 is a leap year: `29 Feb` must stay possible without knowing the year.
        date(2000, month, day)
    except ValueError:
        return None
    return PostDate(None, month, day)


def looks_like_capture(text: str) -> bool:
    """Whether the text is a capture of either layout (a byline, or a badge line)."""
    lines = text.splitlines()
    return any(_BYLINE.match(line) for line in lines) or any(_badge(line) for line in lines)


@guarded("text capture")
def parse_capture(data: bytes | str) -> list[Post]:
    """The posts of a plain-text capture, in capture order (no ids, titles as captured)."""
    text = decode_page(data)
    if text.lstrip().startswith("<"):
        raise ParseError("not a text capture: the input is markup")
    lines = text.splitlines()
    if any(_BYLINE.match(line) for line in lines):
        return _category_layout(lines)
    if any(_badge(line) for line in lines):
        return _homepage_layout(lines)
    raise ParseError("not a text capture: no `By … | YYYY-MM-DD | N位读者` byline and no `17 Aug` badge")


def _cut_footer(lines: list[str], start: int) -> tuple[list[str], bool]:
    """The lines before the page footer (`最近评论` and all after it), and whether there was one."""
    for index in range(start, len(lines)):
        if _FOOTER.match(lines[index]):
            return lines[:index], True
    return lines, False


def _drop_pagination(lines: list[str]) -> list[str]:
    """The lines without the page navigator (`1 2 3 … 下一页`, one item a line or all on one) at their end."""
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _PAGE_ITEMS.match(lines[end - 1])):
        end -= 1
    run = " ".join(lines[end:])
    # A lone number may end an excerpt; a navigator has a "next" word or arrow, or several page numbers.
    if _PAGE_WORD.search(run) or len(re.findall(r"\d+", run)) >= 2:
        return lines[:end]
    return lines


def _previous_text_line(lines: list[str], index: int, floor: int) -> int | None:
    """Index of the last non-blank line before `index` and after `floor`, or None."""
    for candidate in range(index - 1, floor, -1):
        if lines[candidate].strip():
            return candidate
    return None


def _last_text_line(lines: list[str]) -> int | None:
    """Index of the last non-blank line, or None."""
    return _previous_text_line(lines, len(lines), -1)


def _cut_byline(lines: list[str], bylines: list[int], footer: bool) -> int | None:
    """Index of a byline cut short by the end of the capture, or None; ParseError for one mid-page.

    A line that starts like a byline but does not parse as one can only be the page's cut end: anywhere
    else the capture is damaged, and its text must not become the previous entry's excerpt.
    """
    # Behind a footer the page was not cut: a last line like `By Alice` is then excerpt text.
    last_text = None if footer else _last_text_line(lines)
    valid = set(bylines)
    for index in range(bylines[0] + 1, len(lines)):
        line = lines[index]
        if index in valid:
            continue
        cut = _BYLINE_START.match(line) is not None
        cut = cut or (index == last_text and _BYLINE_PREFIX.match(line) is not None)
        if not cut:
            continue
        if index < bylines[-1]:
            raise ParseError(
                f"text capture: line {index + 1} starts like a byline but does not parse as one "
                "(`By … | YYYY-MM-DD | N位读者`): the capture is damaged"
            )
        return index
    return None


def _category_layout(lines: list[str]) -> list[Post]:
    """Title line, byline glued to the first excerpt line, more excerpt lines, … then the footer.

    A capture cut short loses the entry it was cut in, never more: without the footer the last entry
    may have lost excerpt lines or end with the next entry's title, so it is dropped; a byline cut short
    ends the entry before it at its title line.
    """
    first = next(i for i, line in enumerate(lines) if _BYLINE.match(line))
    lines, footer = _cut_footer(lines, first)
    bylines = [i for i, line in enumerate(lines) if _BYLINE.match(line)]
    cut = _cut_byline(lines, bylines, footer)
    if cut is None and not footer:
        # Without the footer the last entry may have lost excerpt lines, or end with the next title.
        cut = bylines.pop()
        if not bylines:
            raise ParseError("text capture is truncated (no `最近评论` footer): no entry is whole")
    if cut is not None:
        # The entry before the cut one ends at the cut entry's title line (if the cut left one).
        title_above = _previous_text_line(lines, cut, bylines[-1])
        lines = lines[: cut if title_above is None else title_above]
    else:
        lines = _drop_pagination(lines)
    # Each entry's title is the non-blank line just above its byline (and below the previous byline).
    titles: list[int | None] = []
    floor = -1
    for index in bylines:
        titles.append(_previous_text_line(lines, index, floor))
        floor = index
    posts: list[Post] = []
    for k, index in enumerate(bylines):
        title_index = titles[k]
        if title_index is None:
            raise ParseError(f"text capture: byline on line {index + 1} has no title line above it")
        match = _BYLINE.match(lines[index])
        assert match is not None  # bylines were selected by this very pattern
        post_date = _full_date(match, index)
        if k + 1 < len(bylines):
            next_title = titles[k + 1]
            end = next_title if next_title is not None else bylines[k + 1]
        else:
            end = len(lines)
        body = [match.group("rest"), *lines[index + 1 : end]]
        title = lines[title_index].strip()
        posts.append(
            Post(
                id=None,
                title=title,
                date=post_date,
                readers=int(match.group("readers").replace(",", "")),
                excerpt=clean_excerpt(["\n".join(body)]),
                content=None,
                title_is_live=False,
            )
        )
    return posts


def _full_date(match: re.Match[str], index: int) -> PostDate:
    """The validated date of a byline."""
    year, month, day = int(match.group("y")), int(match.group("m")), int(match.group("d"))
    try:
        date(year, month, day)
    except ValueError:
        raise ParseError(f"text capture: invalid date on line {index + 1}") from None
    return PostDate(year, month, day)


def _homepage_layout(lines: list[str]) -> list[Post]:
    """`17 Aug`, blank, title, blank, excerpt paragraphs, `点击阅读全文...`.

    An entry ends at its "read more" line or at the next badge; the last one also at the footer. Without
    either, the capture was cut inside the last entry, which is then dropped rather than stored cut short.
    """
    first = next(i for i, line in enumerate(lines) if _badge(line))
    lines, footer = _cut_footer(lines, first)
    badges = [i for i, line in enumerate(lines) if _badge(line)]
    posts: list[Post] = []
    for k, index in enumerate(badges):
        last = k + 1 == len(badges)
        end = len(lines) if last else badges[k + 1]
        title_index = next((i for i in range(index + 1, end) if lines[i].strip()), None)
        if title_index is None:
            if last and not footer:
                break
            raise ParseError(f"text capture: date badge on line {index + 1} has no title after it")
        body: list[str] = []
        read_more = False
        for line in lines[title_index + 1 : end]:
            if _READ_MORE.match(line):
                read_more = True
                break
            body.append(line)
        if last and not read_more:
            if not footer:
                break
            body = _drop_pagination(body)
        post_date = _badge(lines[index])
        assert post_date is not None  # badges were selected by `_badge`
        title = lines[title_index].strip()
        posts.append(
            Post(
                id=None,
                title=title,
                date=post_date,
                readers=None,
                excerpt=clean_excerpt(["\n".join(body)]),
                content=None,
                title_is_live=False,
            )
        )
    if not posts:
        raise ParseError("text capture is truncated: no entry is known to be whole")
    return posts
