"""Shared text helpers of the parsers: input guards, LaTeX-safe whitespace, excerpt clean-up."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator

from archive import ParseError

__all__ = [
    "MAX_PAGE_BYTES",
    "Preformatted",
    "clean_excerpt",
    "decode_page",
    "normalize_inline",
    "preformatted",
    "protect_math",
]

# A real listing page is ~100 KiB and /content.html ~400 KiB: 10 MiB is garbage or an attack, not a page.
MAX_PAGE_BYTES = 10 * 1024 * 1024

# Display math first so `$$…$$` is not read as two empty `$…$`; inline `$…$` may not cross a blank line
# so that a lone dollar sign (a price) cannot swallow the rest of the excerpt.
_MATH = re.compile(
    r"\$\$.+?\$\$"
    r"|\\begin\{(?P<env>[A-Za-z*]+)\}.*?\\end\{(?P=env)\}"
    r"|\\\[.+?\\\]"
    r"|\\\(.+?\\\)"
    r"|\$(?:[^$\n]|\n(?!\s*\n))+?\$",
    re.DOTALL,
)
_PLACEHOLDER = "\ue000{}\ue001"
_PLACEHOLDER_RE = re.compile("\ue000(\\d+)\ue001")
_HSPACE = re.compile(r"[^\S\n]+")
_ANYSPACE = re.compile(r"\s+")
# CSS drops a line break of the source between two East Asian wide characters instead of showing a space;
# so do we, or a Chinese paragraph wrapped in the HTML source would read "列， 再用".
_WIDE = "\u2e80-\u303f\u3040-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
_WIDE_BREAK = re.compile(rf"(?<=[{_WIDE}])[^\S\n]*\n\s*(?=[{_WIDE}])")
# Furniture of listing pages: the quote link glued after the reader count and the "read more" link.
_READ_MORE = re.compile(r"^\s*点击阅读全文\s*(?:\.{3}|…+)?\s*$")
# Control characters other than tab/newline/CR never occur in a text page; many of them mean binary.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Preformatted(str):
    """Text whose whitespace is content (a `<pre>` code block): lines and indentation are kept."""

    __slots__ = ()


def preformatted(text: str) -> Preformatted:
    """Code text as a Preformatted paragraph: trailing spaces and the blank lines around it dropped."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return Preformatted("\n".join(lines))


def decode_page(data: bytes | str) -> str:
    """The page as text: size-checked, BOM-aware UTF-8 (or UTF-16 with a BOM); ParseError otherwise."""
    if isinstance(data, str):
        if len(data) > MAX_PAGE_BYTES:
            raise ParseError(f"page too large: {len(data)} characters (limit {MAX_PAGE_BYTES} bytes)")
        text = data
    else:
        if len(data) > MAX_PAGE_BYTES:
            raise ParseError(f"page too large: {len(data)} bytes (limit {MAX_PAGE_BYTES})")
        text = _decode_bytes(data)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ParseError("empty page")
    controls = len(_CONTROL.findall(text[:65536]))
    if "\x00" in text or controls > 8:
        raise ParseError("binary data, not a text page")
    return text


def _decode_bytes(data: bytes) -> str:
    """Decode by BOM, else as strict UTF-8 (the site serves nothing else)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"undecodable UTF-16 page: {exc.reason} at byte {exc.start}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"undecodable page (not UTF-8): {exc.reason} at byte {exc.start}") from None


def protect_math(text: str) -> tuple[str, list[str]]:
    """Replace every LaTeX span by a placeholder so whitespace clean-up cannot touch it."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(match.group(0))
        return _PLACEHOLDER.format(len(spans) - 1)

    # The private-use placeholder characters must not already be in the text, or restoring would misfire.
    text = text.replace("\ue000", "").replace("\ue001", "")
    return _MATH.sub(keep, text), spans


def restore_math(text: str, spans: list[str]) -> str:
    """Undo `protect_math`."""
    return _PLACEHOLDER_RE.sub(lambda m: spans[int(m.group(1))], text)


def normalize_inline(text: str) -> str:
    """HTML-style whitespace: every run (newlines too) becomes one space, outside LaTeX; stripped."""
    protected, spans = protect_math(text)
    protected = _WIDE_BREAK.sub("", protected)
    return restore_math(_ANYSPACE.sub(" ", protected).strip(), spans)


def _is_math_line(line: str) -> bool:
    """Whether a line starts with LaTeX (two equal equations in a row are content, not a caption)."""
    return line.startswith(("$", "\\"))


def clean_excerpt(paragraphs: Iterable[str]) -> str:
    """Excerpt text from paragraphs: furniture dropped, repeated caption lines dropped, joined by newlines.

    Whitespace inside a line is collapsed, except inside LaTeX, which is kept exactly as written, and in
    `Preformatted` paragraphs (code), whose lines keep their indentation and are never deduplicated.
    """
    return "\n".join(_clean_lines(paragraphs))


def _clean_lines(paragraphs: Iterable[str]) -> Iterator[str]:
    """The kept lines of `clean_excerpt`."""
    previous: str | None = None
    for paragraph in paragraphs:
        if isinstance(paragraph, Preformatted):
            for line in paragraph.split("\n"):
                # Excerpts have no blank lines; a code line is kept as written, indentation first.
                if line.strip():
                    previous = line.rstrip()
                    yield previous
            continue
        protected, spans = protect_math(paragraph)
        for raw in protected.split("\n"):
            line = _HSPACE.sub(" ", raw).strip()
            if not line or _READ_MORE.match(line):
                continue
            line = restore_math(line, spans)
            # Images render as alt text then the identical caption; keep one of them.
            if line == previous and not _is_math_line(line):
                continue
            previous = line
            yield line
