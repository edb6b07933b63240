"""`kexue-notifier digest`: defaults, formats, languages, splitting, and user mistakes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from cli.main import main
from storage.db import database
from tests.digest.tg_validator import check_telegram_html
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=TZ)


def _seed(path: Path, count: int = 2, excerpt: str = "正文里有$\\sqrt{d}$。") -> None:
    async def run() -> None:
        async with database(path) as db:
            posts = [
                Post(
                    id=11000 + k,
                    title=f"MoE环游记：{k}、第{k}篇",
                    date=PostDate.from_iso(f"2025-02-{20 + k % 9:02d}"),
                    readers=100 * k,
                    excerpt=excerpt,
                )
                for k in range(1, count + 1)
            ]
            await seed(db, posts, now=NOW - timedelta(days=1))

    asyncio.run(run())


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory, the clock at NOW, and the path of a store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KEXUE_NOW", NOW.isoformat())
    monkeypatch.setenv("LINK_HOST", "spaces.ac.cn")
    return tmp_path / "k.sqlite3"


def test_default_is_the_last_week_in_zh_for_telegram(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(env)
    assert main(["digest", "--db", str(env)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<b>科学空间 · 新文章摘要</b>\n2025-02-22 至 2025-03-01")
    assert "https://spaces.ac.cn/archives/11002" in out and "√d" in out
    assert '11001">MoE' not in out  # dated 2025-02-21: before the last seven days (only linked as part 1)


def test_formats_and_languages(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(env)
    assert (
        main(["digest", "--db", str(env), "--since", "2025-02-01", "--lang", "en", "--format", "email-html"])
        == 0
    )
    html = capsys.readouterr().out
    assert html.startswith("<!DOCTYPE html>") and "New posts" in html and "11001" in html
    assert main(["digest", "--db", str(env), "--format", "email-text"]) == 0
    assert "== 新文章 ==" in capsys.readouterr().out


def test_long_digests_print_several_marked_messages(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCERPT_CHARS", "2000")
    _seed(env, count=9, excerpt="很长的一句话，" * 200 + "完。")
    assert main(["digest", "--db", str(env), "--since", "2025-02-01"]) == 0
    out = capsys.readouterr().out
    assert "----- message 1/" in out and "----- message 2/" in out


def test_an_empty_digest_prints_nothing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(env, count=0)
    assert main(["digest", "--db", str(env)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no digest" in captured.err


def test_a_digest_of_a_database_that_does_not_exist_is_refused_and_creates_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["digest", "--db", str(env)]) == 1
    assert "no posts are stored yet" in capsys.readouterr().err
    assert not env.exists()


def test_a_bad_date_is_one_line_and_not_a_traceback(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["digest", "--db", str(env), "--since", "yesterday"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "not a date" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "bad", [["--lang", "fr"], ["--format", "pdf"], ["--since", "2025-13-01"], ["--since"], ["extra"]]
)
def test_every_bad_value_is_one_stderr_line(
    env: Path, capsys: pytest.CaptureFixture[str], bad: list[str]
) -> None:
    _seed(env)
    with pytest.raises(SystemExit) as exited:
        main(["digest", "--db", str(env), *bad])
    assert exited.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("fmt", ["telegram", "email-html", "email-text"])
def test_every_format_and_language_prints_a_digest(
    env: Path, capsys: pytest.CaptureFixture[str], lang: str, fmt: str
) -> None:
    _seed(env, count=3, excerpt="比较$\\left( x \\right)$与$a<b$的差别。")
    assert main(["digest", "--db", str(env), "--lang", lang, "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert "https://spaces.ac.cn/archives/11003" in out and "(x)" in out
    if fmt == "telegram":
        check_telegram_html(out.strip())
        assert "a&lt;b" in out
    elif fmt == "email-html":
        assert out.startswith("<!DOCTYPE html>") and "a&lt;b" in out
    else:
        assert "a<b" in out and "<" not in out.replace("a<b", "")
    assert ("新文章" in out) == (lang == "zh")
