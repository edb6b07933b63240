"""Templates: a golden file for every template and language; Telegram messages valid and within the limit."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from archive.model import Post, PostDate
from digest import DigestError
from digest.model import LANGS, Digest, Lang, MostRead, PostItem, SeriesRef, build_item
from digest.render import FORMATS, Format, Renderer
from digest.telegram import TELEGRAM_LIMIT, telegram_length
from storage.posts import StoredPost
from tests.digest.golden_files import check_golden
from tests.digest.samples import DIGEST, LOW_RANK, NO_ID, POSITION
from tests.digest.tg_validator import InvalidTelegramHtml, check_telegram_html

RENDERER = Renderer()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", LANGS)
def test_a_link_across_a_part_never_stored_names_that_part(lang: Lang, fmt: Format) -> None:
    assert LOW_RANK.series is not None
    # No excerpt: the sample's own text begins with 上一篇.
    adjacent = replace(LOW_RANK, excerpt="", series=replace(LOW_RANK.series, previous_part=2))
    across = replace(LOW_RANK, excerpt="", series=replace(LOW_RANK.series, previous_part=1))

    def rendered(item: PostItem) -> str:
        digest = replace(DIGEST, posts=(item,), series_updates=(), most_read=())
        return "\n".join(RENDERER.render(digest, lang, fmt))

    # Across a missing part the link names it as the previous one: 上一篇：第 1 篇, never （第 1 篇）.
    words = {"en": ("revious part", "revious: part 1"), "zh": ("上一篇", "上一篇：第 1 篇")}
    previous, numbered = words[lang]
    if fmt == "email-text":
        # Its own line there, no parenthesis to misread: `Part 1: <link>`.
        numbered = {"en": "Part 1: ", "zh": "第 1 篇："}[lang]
    assert previous in rendered(adjacent) and numbered not in rendered(adjacent)
    assert numbered in rendered(across)
    assert "（第 1 篇）" not in rendered(across)


@pytest.mark.parametrize("lang", LANGS)
def test_telegram_post_golden(lang: Lang) -> None:
    message = RENDERER.telegram_post(LOW_RANK, lang)
    check_telegram_html(message)
    check_golden(f"telegram-post.{lang}.html", message + "\n")


@pytest.mark.parametrize("lang", LANGS)
def test_telegram_digest_golden(lang: Lang) -> None:
    messages = RENDERER.telegram_digest(DIGEST, lang)
    assert len(messages) == 1
    check_telegram_html(messages[0])
    check_golden(f"telegram-digest.{lang}.html", messages[0] + "\n")


@pytest.mark.parametrize("lang", LANGS)
def test_email_html_golden(lang: Lang) -> None:
    check_golden(f"email-digest.{lang}.html", RENDERER.email_html(DIGEST, lang))


@pytest.mark.parametrize("lang", LANGS)
def test_email_text_golden(lang: Lang) -> None:
    check_golden(f"email-digest.{lang}.txt", RENDERER.email_text(DIGEST, lang))


def test_post_strings_are_escaped_everywhere() -> None:
    html = RENDERER.email_html(DIGEST, "zh")
    assert "一篇只在文本快照里见过的文章 &lt;b&gt;&amp;amp;" in html
    assert "<em>" not in html and "&lt;em&gt;" in html
    text = RENDERER.email_text(DIGEST, "zh")
    assert "一篇只在文本快照里见过的文章 <b>&amp;" in text


def test_validator_rejects_what_telegram_rejects() -> None:
    # `<a>x</a>` without href is no error for Telegram (it shows `x`), so none for the oracle either.
    for bad in ["<b>x", "<br>", "a < b", "a & b", "<b><i>x</b></i>", "<p>x</p>"]:
        with pytest.raises(InvalidTelegramHtml):
            check_telegram_html(bad)
    assert check_telegram_html("<b>a</b> &lt; &amp; 𝔼").utf16 == 8
    with pytest.raises(InvalidTelegramHtml):
        check_telegram_html("𝔼" * 2049)


def _item(key: int, title: str, excerpt: str) -> PostItem:
    return PostItem(key, title, f"https://kexue.fm/archives/{key}", "2025-05-01", 1000 + key, excerpt)


def test_a_long_digest_is_split_between_posts() -> None:
    posts = tuple(_item(k, f"第{k}篇文章", "很长的摘要，" * 60 + "完。") for k in range(1, 41))
    digest = Digest(date(2025, 5, 1), date(2025, 5, 8), "https://kexue.fm/", posts=posts)
    for lang in LANGS:
        messages = RENDERER.telegram_digest(digest, lang)
        assert len(messages) > 1
        seen: list[str] = []
        for message in messages:
            checked = check_telegram_html(message)
            assert checked.utf16 <= TELEGRAM_LIMIT
            seen.extend(p.title for p in posts if p.title + "<" in message.replace("</a>", "<"))
        # Every post appears exactly once, whole (its excerpt is never broken across messages).
        assert seen == [p.title for p in posts]
        assert all(message.count("<blockquote>") == message.count("</blockquote>") for message in messages)
        assert "（续）" in messages[1] or "(continued)" in messages[1]


def test_a_post_too_long_on_its_own_is_shortened_not_broken() -> None:
    huge = _item(1, "标题<&>" * 3000, "摘要" * 5000)
    for lang in LANGS:
        message = RENDERER.telegram_post(huge, lang)
        checked = check_telegram_html(message)
        assert checked.utf16 <= TELEGRAM_LIMIT
        assert "…" in checked.text
        digest = Digest(date(2025, 5, 1), date(2025, 5, 8), "https://kexue.fm/", posts=(huge, POSITION))
        for part in RENDERER.telegram_digest(digest, lang):
            check_telegram_html(part)


def test_the_limit_counts_utf16_units() -> None:
    astral = _item(1, "𝔼" * 1500, "")
    digest = Digest(date(2025, 5, 1), date(2025, 5, 8), "https://kexue.fm/", posts=(astral, astral, astral))
    for message in RENDERER.telegram_digest(digest, "en"):
        assert telegram_length(message) <= TELEGRAM_LIMIT
        check_telegram_html(message)


_ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from('<>&"\'/;#x0123 abc</b><a href="x">&amp;&lt;'), max_size=300),
    st.text(min_size=3000, max_size=9000),
    st.builds(lambda c, n: c * n, st.characters(), st.integers(min_value=1, max_value=6000)),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(title=_ANY_TEXT, excerpt=_ANY_TEXT, name=_ANY_TEXT, lang=st.sampled_from(LANGS))
def test_any_title_and_excerpt_render_to_valid_telegram_html_within_the_limit(
    title: str, excerpt: str, name: str, lang: Lang
) -> None:
    item = PostItem(
        7, title, "https://kexue.fm/archives/7", "2025-05-01", 5, excerpt, SeriesRef(name, 2, None, None)
    )
    message = RENDERER.telegram_post(item, lang)
    check_telegram_html(message)
    others = (replace(item, key=8), POSITION, NO_ID)
    digest = Digest(
        date(2025, 5, 1),
        date(2025, 5, 8),
        "https://kexue.fm/",
        posts=(item, *others),
        series_updates=(replace(item, key=9),),
        most_read=(MostRead(item, 3), MostRead(POSITION, 1)),
    )
    for part in RENDERER.telegram_digest(digest, lang):
        check_telegram_html(part)


_LATEX_NOISE = st.lists(
    st.sampled_from([*"\\{}$^_&<>'\"x2 。.", "\\frac", "\\left", "$$", "\\begin{equation}"]), max_size=200
).map("".join)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    title=_ANY_TEXT,
    excerpt=st.one_of(_ANY_TEXT, _LATEX_NOISE),
    lang=st.sampled_from(LANGS),
    fmt=st.sampled_from(FORMATS),
)
def test_any_stored_post_renders_through_the_real_path(
    title: str, excerpt: str, lang: Lang, fmt: Format
) -> None:
    """From a stored post (raw excerpt, LaTeX and all) through the message view to every format."""
    stored = StoredPost(
        7,
        Post(7, title, PostDate(2025, 5, 1), 12, excerpt),
        "2025-05-01T00:00:00+00:00",
        "2025-05-01T00:00:00+00:00",
    )
    item = build_item(stored, link_host="kexue.fm", cached=False)
    digest = Digest(date(2025, 5, 1), date(2025, 5, 8), "https://kexue.fm/", posts=(item, POSITION))
    parts = RENDERER.render(digest, lang, fmt)
    if fmt == "telegram":
        for part in parts:
            check_telegram_html(part)
        check_telegram_html(RENDERER.telegram_post(item, lang))
    elif fmt == "email-html":
        [document] = parts
        # The title shows escaped, never as markup.
        assert str(escape(title)) in document
    else:
        [document] = parts
        # A rendered block is trimmed at its edges, and the title opens its block.
        assert title.strip() in document


_SCRIPT = "<script>alert('x')</script>"


@pytest.mark.parametrize("lang", LANGS)
def test_strings_passed_into_translated_phrases_are_still_escaped(lang: Lang) -> None:
    assert LOW_RANK.series is not None
    hostile = replace(
        LOW_RANK,
        title=_SCRIPT,
        series=replace(LOW_RANK.series, name=_SCRIPT, previous_url="https://kexue.fm/?a=1&b=<2>"),
    )
    digest = replace(DIGEST, posts=(hostile,), series_updates=(), most_read=(MostRead(hostile, 2),))
    escaped = str(escape(_SCRIPT))
    for html in [
        RENDERER.telegram_post(hostile, lang),
        *RENDERER.telegram_digest(digest, lang),
        RENDERER.email_html(digest, lang),
    ]:
        assert "<script>" not in html
        # The title, the series name inside the series phrase, and the link inside it, all escaped.
        assert html.count(escaped) >= 2
        assert 'href="https://kexue.fm/?a=1&amp;b=&lt;2&gt;"' in html
    for message in [RENDERER.telegram_post(hostile, lang), *RENDERER.telegram_digest(digest, lang)]:
        check_telegram_html(message)
    # Plain text is not HTML: the same strings stay as written.
    assert RENDERER.email_text(digest, lang).count(_SCRIPT) >= 2


def test_one_reader_is_singular_in_english_and_the_same_in_chinese() -> None:
    one = replace(POSITION, readers=1)
    digest = replace(DIGEST, posts=(one,), series_updates=(), most_read=(MostRead(one, 1),))
    assert "· 1 reader\n" in RENDERER.telegram_post(one, "en") + "\n"
    assert "(+1 reader)" in RENDERER.email_text(digest, "en")
    assert "· 1 位读者" in RENDERER.telegram_post(one, "zh")
    assert "（+1 位读者）" in RENDERER.email_html(digest, "zh")


def test_an_unknown_language_is_a_digest_error() -> None:
    with pytest.raises(DigestError, match="no catalog for language 'fr'"):
        RENDERER.render(DIGEST, "fr", "telegram")


_FRENCH = {
    "New on Scientific Spaces": "Nouveau sur Scientific Spaces",
    "Scientific Spaces · New posts": "Scientific Spaces · Nouveaux articles",
    "%(start)s to %(end)s": "du %(start)s au %(end)s",
    "%(name)s, part %(part)s (%(previous)s)": "%(name)s, partie %(part)s (%(previous)s)",
    "%(name)s, part %(part)s": "%(name)s, partie %(part)s",
    "previous part": "partie précédente",
    "Scientific Spaces: new posts, %(start)s to %(end)s": (
        "Scientific Spaces : nouveaux articles du %(start)s au %(end)s"
    ),
}


def test_a_third_language_is_one_new_catalog(tmp_path: Path) -> None:
    catalog = Catalog(locale="fr")
    for msgid, string in _FRENCH.items():
        catalog.add(msgid, string)
    catalog.add(("%(count)s reader", "%(count)s readers"), ("%(count)s lecteur", "%(count)s lecteurs"))
    catalog.add("en", "fr", context="html lang")
    path = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as target:
        write_po(target, catalog)

    renderer = Renderer(locales_dir=tmp_path)
    assert renderer.translations.languages == ("fr",)
    post = renderer.telegram_post(LOW_RANK, "fr")
    check_telegram_html(post)
    assert post.startswith("<b>Nouveau sur Scientific Spaces</b>")
    assert '低秩近似之路, partie 3 (<a href="https://kexue.fm/archives/10407">partie précédente</a>)' in post
    assert "11,871 lecteurs" in post
    [telegram] = renderer.telegram_digest(DIGEST, "fr")
    assert "du 2024-09-01 au 2024-10-12" in telegram
    # A message the catalog lacks shows in English, the language of the msgids.
    assert "<b>New posts</b>" in telegram
    html = renderer.email_html(DIGEST, "fr")
    assert html.startswith('<!DOCTYPE html>\n<html lang="fr">')
    assert "<title>Scientific Spaces : nouveaux articles du 2024-09-01 au 2024-10-12</title>" in html
    assert "26,991 lecteurs" in renderer.email_text(DIGEST, "fr")


_NAIVE = Renderer(cached=False)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lang", LANGS)
def test_the_memoized_email_frame_gives_what_a_full_render_gives(lang: Lang, fmt: Format) -> None:
    """Every combination of empty and non-empty sections, one block and several."""
    for series in [(), (LOW_RANK,)]:
        for posts in [(), (NO_ID,), (POSITION, NO_ID, replace(POSITION, key=9, title="第三篇"))]:
            for most_read in [(), (MostRead(POSITION, 3),), DIGEST.most_read]:
                digest = replace(DIGEST, series_updates=series, posts=posts, most_read=most_read)
                assert RENDERER.render(digest, lang, fmt) == _NAIVE.render(digest, lang, fmt)


def test_an_email_template_showing_a_block_list_outside_a_loop_is_refused(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(Renderer().templates_dir, templates)
    document = templates / "email" / "digest.txt"
    document.write_text(
        document.read_text(encoding="utf-8").replace("{{ block }}", "{{ block }}{{ post_blocks[0] }}", 1),
        encoding="utf-8",
    )
    with pytest.raises(DigestError, match=r"email/digest\.txt must show each non-empty block list once"):
        Renderer(templates).email_text(DIGEST, "en")
    # The naive renderer has no frame to check: it shows what the template says.
    assert Renderer(templates, cached=False).email_text(DIGEST, "en").count(POSITION.title) == 3
