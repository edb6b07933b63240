"""The command line as users and our acceptance checks call it: real processes, a real file, a real server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_feed_xml, read_fixture

TZ = ZoneInfo("Asia/Shanghai")
RSS = "application/rss+xml; charset=UTF-8"
POST_KEYS = {"id", "url", "title", "date", "readers", "excerpt", "series"}


@dataclass(frozen=True)
class Run:
    """What one command did."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout as JSON."""
        return json.loads(self.stdout)


class Cli:
    """Runs `python -m cli.main` in a scratch directory with a clean environment."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("KEXUE_", "LINK_", "TIME_", "POLL_"))
        }
        self.env.update(
            {"KEXUE_DB": str(workdir / "kexue.sqlite3"), "KEXUE_NOW": "2025-05-10T12:00:00+08:00"}
        )

    async def __call__(self, *args: str, **env: str) -> Run:
        """Run one command; `env` adds settings."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            *args,
            cwd=self.workdir,
            env={**self.env, **env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
        assert proc.returncode is not None
        return Run(proc.returncode, out.decode(), err.decode())


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A command runner in `tmp_path`."""
    return Cli(tmp_path)


def feed_file(path: Path, *specs: tuple[int, str, str]) -> str:
    """Write a feed with (id, title, Beijing date) items; return its path."""
    items = [
        (i, t, datetime.fromisoformat(d).replace(hour=9, tzinfo=TZ), f"摘要{i} $x^2$") for i, t, d in specs
    ]
    path.write_bytes(make_feed_xml(items))
    return str(path)


OLD = [
    (10366, "低秩近似之路（一）：伪逆", "2024-09-15"),
    (10427, "低秩近似之路（三）：CR", "2024-10-11"),
    (10699, "MoE环游记：1、从几何意义出发", "2025-02-08"),
    (10735, "MoE环游记：2、不患寡而患不均", "2025-02-21"),
    (10592, "Muon优化器赏析：从向量到矩阵的本质跨越", "2024-12-10"),
]


def assert_one_line_error(run: Run) -> None:
    """A user mistake: non-zero, one line on stderr, no traceback."""
    assert run.code != 0
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


async def test_parse_prints_posts_in_source_order(cli: Cli) -> None:
    path = cli.workdir / "feed.xml"
    path.write_bytes(read_fixture("feed.xml"))
    run = await cli("parse", str(path), "--json")
    assert run.code == 0, run.stderr
    posts = run.json()
    assert len(posts) == 10 and all(set(p) == POST_KEYS for p in posts)
    assert all(p["url"] == f"https://kexue.fm/archives/{p['id']}" for p in posts)


async def test_parse_honours_link_host(cli: Cli) -> None:
    path = cli.workdir / "feed.xml"
    path.write_bytes(read_fixture("feed.xml"))
    run = await cli("parse", str(path), "--json", LINK_HOST="spaces.ac.cn")
    assert all(p["url"].startswith("https://spaces.ac.cn/archives/") for p in run.json())


@pytest.mark.parametrize(
    "name", ["broken-challenge.html", "broken-truncated.html", "broken-nginx-502.html", "broken-random.bin"]
)
async def test_parse_of_a_broken_page_exits_1_with_one_line(cli: Cli, name: str) -> None:
    path = cli.workdir / name
    path.write_bytes(read_fixture(name))
    run = await cli("parse", str(path), "--json")
    assert run.code == 1
    assert_one_line_error(run)
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("tool.bin", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4),
        ("notes.txt", "随手记的几行字\n没有任何格式\n".encode()),
        ("cut capture.txt", "标题\nBy 苏剑林 | 2024-10-11 | 118".encode()),
    ],
)
async def test_a_parse_error_names_the_file(cli: Cli, name: str, data: bytes) -> None:
    path = cli.workdir / name
    path.write_bytes(data)
    run = await cli("parse", str(path))
    assert_one_line_error(run)
    assert str(path) in run.stderr


async def test_parse_of_an_empty_listing_is_an_empty_array(cli: Cli) -> None:
    path = cli.workdir / "empty.html"
    path.write_bytes(read_fixture("category-empty.html"))
    run = await cli("parse", str(path), "--json")
    assert (run.code, run.json()) == (0, [])


async def test_user_mistakes_are_one_line(cli: Cli) -> None:
    assert_one_line_error(await cli("parse", str(cli.workdir / "missing.xml")))
    assert_one_line_error(await cli("latest", "--db", "/proc/no/such/dir/k.sqlite3"))
    assert_one_line_error(await cli("latest", POLL_INTERVAL="often"))
    assert_one_line_error(await cli("latest", TIME_ZONE="Mars/Olympus"))


async def test_poll_records_a_baseline_then_announces_only_what_is_new(cli: Cli) -> None:
    feed = feed_file(cli.workdir / "feed.xml", *OLD)
    first = await cli("poll", feed, "--json")
    assert first.code == 0, first.stderr
    assert first.json() == {
        "baseline": True,
        "new": [],
        "stored": 5,
        "updated": 0,
        "unchanged": 0,
        "errors": [],
    }
    feed_file(
        cli.workdir / "feed.xml", (10907, "Transformer升级之路：20、MLA好在哪里?（上）", "2025-05-04"), *OLD
    )
    second = (await cli("poll", feed, "--json")).json()
    assert second["baseline"] is False
    assert [p["id"] for p in second["new"]] == [10907]
    assert second["new"][0]["series"] == {"name": "Transformer升级之路", "part": 20}
    assert (second["stored"], second["updated"], second["unchanged"]) == (0, 0, 5)
    third = (await cli("poll", feed, "--json")).json()
    assert (third["new"], third["unchanged"]) == ([], 6)


async def test_poll_uses_kexue_sources_and_reports_a_failing_one(cli: Cli) -> None:
    feed = feed_file(cli.workdir / "feed.xml", *OLD)
    broken = cli.workdir / "broken.html"
    broken.write_bytes(read_fixture("broken-truncated.html"))
    run = await cli("poll", "--json", KEXUE_SOURCES=f"{feed}, {broken}")
    assert run.code == 0
    result = run.json()
    assert result["baseline"] is True
    assert [e["source"] for e in result["errors"]] == [str(broken)]
    only_broken = await cli("poll", "--json", KEXUE_SOURCES=str(broken))
    assert only_broken.code == 1 and only_broken.json()["new"] == []
    # A failed poll says so on stderr and prints no summary of zeros on stdout, as a success would.
    failed = await cli("poll", KEXUE_SOURCES=str(broken))
    assert failed.code == 1 and failed.stdout == "" and str(broken) in failed.stderr


async def test_latest_is_newest_first(cli: Cli) -> None:
    await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD))
    run = await cli("latest", "-n", "2", "--json")
    assert [p["id"] for p in run.json()] == [10735, 10699]
    assert len((await cli("latest", "--json")).json()) == 5
    assert_one_line_error(await cli("latest", "-n", "0"))
    # A local tool pages through the service for the reader: more than a page at once is fine.
    assert len((await cli("latest", "-n", "200", "--json")).json()) == 5


async def test_series_lists_and_looks_up_by_any_spelling_or_prefix(cli: Cli) -> None:
    await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD))
    listing = (await cli("series", "--json")).json()
    assert listing == [
        {"name": "MoE环游记", "parts": 2, "latest": "2025-02-21"},
        {"name": "低秩近似之路", "parts": 2, "latest": "2024-10-11"},
    ]
    one = (await cli("series", "低秩近似之路", "--json")).json()
    assert one["name"] == "低秩近似之路"
    assert [p["series"]["part"] for p in one["posts"]] == [1, 3]
    assert one["missing"] == [2]
    assert (await cli("series", "低秩", "--json")).json()["name"] == "低秩近似之路"
    assert (await cli("series", "moe环游记", "--json")).json()["name"] == "MoE环游记"
    ambiguous = await cli("series", "")
    assert_one_line_error(ambiguous)
    await cli(
        "poll",
        feed_file(cli.workdir / "more.xml", (10114, "重温SSM（一）：线性系统和HiPPO矩阵", "2024-05-24")),
    )
    await cli(
        "poll",
        feed_file(cli.workdir / "more2.xml", (10180, "重温SSM（四）：有理生成函数的新视角", "2024-06-27")),
    )
    await cli("poll", feed_file(cli.workdir / "more3.xml", (10000, "重要性采样（一）：基础", "2024-03-01")))
    prefix = await cli("series", "重")
    assert_one_line_error(prefix)
    assert "重温SSM" in prefix.stderr and "重要性采样" in prefix.stderr
    assert_one_line_error(await cli("series", "不存在的系列"))
    # Any part of a name, spaced and punctuated any way; a typo gets a suggestion line, not a guess.
    assert (await cli("series", "SSM", "--json")).json()["name"] == "重温SSM"
    assert (await cli("series", "近似 之路：", "--json")).json()["name"] == "低秩近似之路"
    # Typed unquoted, the words are still one name.
    assert (await cli("series", "近似", "之路", "--json")).json()["name"] == "低秩近似之路"
    typo = await cli("series", "低秩近拟之路")
    assert_one_line_error(typo)
    assert "did you mean: 低秩近似之路?" in typo.stderr


async def test_two_processes_polling_at_once_announce_each_post_once(
    cli: Cli, blog_server: BlogServer
) -> None:
    blog_server.set("/feed", make_feed_xml([]), content_type=RSS)
    base = [(i, t, datetime.fromisoformat(d).replace(tzinfo=TZ), "x") for i, t, d in OLD]
    blog_server.set("/feed", make_feed_xml(base), content_type=RSS)
    await cli("poll", blog_server.url("/feed"))
    fresh = [(11000 + i, f"新文章{i}", datetime(2025, 5, 9, 8, i, tzinfo=TZ), "x") for i in range(10)]
    blog_server.set("/feed", make_feed_xml(fresh), content_type=RSS)
    runs = await asyncio.gather(*(cli("poll", blog_server.url("/feed"), "--json") for _ in range(2)))
    announced = [p["id"] for run in runs for p in run.json()["new"]]
    assert sorted(announced) == [11000 + i for i in range(10)]


async def test_backfill_reports_progress_and_is_complete(cli: Cli, blog_server: BlogServer) -> None:
    from tests.notifier.test_crawling import serve_site, site_posts

    serve_site(blog_server, site_posts(6, readers=50))
    run = await cli("backfill", "--json", KEXUE_SOURCES=blog_server.url("/feed"), CRAWL_DELAY="0")
    assert run.code == 0, run.stderr
    report = run.json()
    assert (report["complete"], report["inserted"], report["errors"]) == (True, 6, [])
    latest = (await cli("latest", "-n", "1", "--json")).json()
    assert latest[0]["readers"] is not None


async def test_a_bad_database_path_is_one_line_and_creates_nothing(cli: Cli) -> None:
    a_file = cli.workdir / "plain.txt"
    a_file.write_text("x")
    for path in (cli.workdir / "no" / "dir" / "k.sqlite3", cli.workdir, a_file / "k.sqlite3"):
        for command in ("latest", "series", "poll", "backfill", "run"):
            run = await cli(command, "--db", str(path))
            assert_one_line_error(run)
            assert "cannot open database" in run.stderr
    assert not (cli.workdir / "no").exists()


async def test_the_default_database_directory_is_created(cli: Cli) -> None:
    env = {k: v for k, v in cli.env.items() if k != "KEXUE_DB"}
    cli.env = env
    # A command that only reads creates nothing: a fresh clone has no store yet, and says so.
    run = await cli("latest", "--json")
    assert_one_line_error(run)
    assert "no posts are stored yet" in run.stderr
    assert not (cli.workdir / "var").exists()
    # A command that writes creates the default directory and file.
    run = await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD), "--json")
    assert run.code == 0, run.stderr
    assert (cli.workdir / "var" / "kexue.sqlite3").is_file()
    assert len((await cli("latest", "--json")).json()) == len(OLD)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KEXUE_NOW", "1700000000"),
        ("KEXUE_NOW", "next tuesday"),
        ("LINK_HOST", "example.com"),
        ("LOG_LEVEL", "LOUD"),
        ("NOTIFY_MAX_AGE_DAYS", "-1"),
    ],
)
async def test_a_bad_setting_is_one_line_naming_it(cli: Cli, name: str, value: str) -> None:
    run = await cli("latest", **{name: value})
    assert_one_line_error(run)
    assert f"invalid setting {name}" in run.stderr and "Value error" not in run.stderr


async def test_a_bad_count_is_one_line_without_internals(cli: Cli) -> None:
    for bad in ("abc", "0", "-3", "1.5"):
        run = await cli("latest", "-n", bad)
        assert_one_line_error(run)
        assert "_positive_int" not in run.stderr


async def test_poll_takes_sources_around_its_options(cli: Cli) -> None:
    first = feed_file(cli.workdir / "a.xml", *OLD[:2])
    second = feed_file(cli.workdir / "b.xml", *OLD[2:])
    run = await cli("poll", first, "--db", str(cli.workdir / "k.sqlite3"), second, "--json")
    assert run.code == 0, run.stderr
    latest = (await cli("latest", "--db", str(cli.workdir / "k.sqlite3"), "--json")).json()
    assert len(latest) == len(OLD)
    assert_one_line_error(await cli("latest", "extra", "--db", str(cli.workdir / "k.sqlite3")))
    mistyped = await cli("poll", first, "--jsn", "--db", str(cli.workdir / "k.sqlite3"))
    assert_one_line_error(mistyped)
    assert "unrecognized arguments: --jsn" in mistyped.stderr


async def test_a_failing_source_is_reported_without_its_password(cli: Cli) -> None:
    run = await cli("poll", "http://reader:s3cret@127.0.0.1:9/feed", "--json")
    assert run.code == 1
    assert "s3cret" not in run.stderr and "s3cret" not in run.stdout
    assert run.json()["errors"][0]["source"] == "http://127.0.0.1:9/feed"
    assert_one_line_error(run)


async def test_a_late_utc_pubdate_is_the_next_beijing_day(cli: Cli) -> None:
    path = cli.workdir / "feed.xml"
    late = datetime(2025, 1, 11, 17, 30, tzinfo=ZoneInfo("UTC"))
    path.write_bytes(make_feed_xml([(10662, "低秩近似之路（五）：CUR", late, "摘要")]))
    assert (await cli("parse", str(path), "--json")).json()[0]["date"] == "2025-01-12"
    assert (await cli("parse", str(path), "--json", TIME_ZONE="UTC")).json()[0]["date"] == "2025-01-11"


async def test_series_lookup_accepts_ascii_quotes_and_full_width_letters(cli: Cli) -> None:
    await cli(
        "poll",
        feed_file(
            cli.workdir / "feed.xml",
            (9984, "“闭门造车”之多模态思路浅谈（一）：无损输入", "2024-02-21"),
            (10699, "MoE环游记：1、从几何意义出发", "2025-02-08"),
        ),
    )
    quoted = (await cli("series", '"闭门造车"', "--json")).json()
    assert quoted["name"] == "“闭门造车”之多模态思路浅谈"
    # The stored name opens with a quote; the words alone, or in any other quotes or brackets, find it.
    for typed in ("闭门造车", "《闭门造车》", "「闭门造车」", "【闭门造车】", "闭门造车”之多模态"):
        found = await cli("series", typed, "--json")
        assert found.code == 0, (typed, found.stderr)
        assert found.json()["name"] == "“闭门造车”之多模态思路浅谈"
        assert [p["id"] for p in found.json()["posts"]] == [9984]
    assert (await cli("series", "ＭｏＥ", "--json")).json()["name"] == "MoE环游记"


async def test_capture_then_live_listing_is_one_post_spelled_as_the_site_spells_it(cli: Cli) -> None:
    capture = cli.workdir / "capture.txt"
    capture.write_text(
        "低秩近似之路(三):CR\nBy 苏剑林 | 2024-10-11 | 11000位读者 | 引用我们自己写的摘要。\n"
        "低秩近似之路(一):伪逆\nBy 苏剑林 | 2024-09-15 | 9000位读者 | 引用另一段摘要。\n最近评论\n",
        encoding="utf-8",
    )
    assert (await cli("poll", str(capture), "--json")).json()["baseline"] is True
    live = cli.workdir / "live.xml"
    feed_file(live, (10427, "低秩近似之路（三）：CR", "2024-10-11"))
    assert (await cli("poll", str(live), "--json")).json()["new"] == []
    await cli("poll", str(capture))
    posts = (await cli("latest", "--json")).json()
    assert [(p["id"], p["title"], p["readers"]) for p in posts] == [
        (10427, "低秩近似之路（三）：CR", 11000),
        (None, "低秩近似之路(一):伪逆", 9000),
    ]
    series = (await cli("series", "低秩近似之路", "--json")).json()
    assert [p["series"]["part"] for p in series["posts"]] == [1, 3] and series["missing"] == [2]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("latest", "-n", "99999999999999999999"), {}),
        (("latest", "-n", "0"), {}),
        (("search", "矩阵", "--offset", "9223372036854775807"), {}),
        (("search", "矩阵", "-n", "101"), {}),
        (("search", ""), {}),
        (("series", ""), {}),
        (("digest", "--since", "0001-01-01"), {}),
        (("digest", "--since", "9999-12-31"), {}),
        (("latest",), {"NOTIFY_MAX_AGE_DAYS": "99999999999"}),
        (("latest",), {"KEXUE_NOW": "0001-01-01T00:00:00"}),
        (("digest",), {"KEXUE_NOW": "9999-12-31T23:59:59"}),
        (("latest",), {"CRAWL_DELAY": "nan"}),
    ],
)
async def test_out_of_range_values_are_one_line_never_a_traceback(
    cli: Cli, args: tuple[str, ...], env: dict[str, str]
) -> None:
    await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD))
    run = await cli(*args, **env)
    assert_one_line_error(run)
    assert run.stdout == ""


async def test_a_dotenv_that_is_not_utf8_is_one_line(cli: Cli) -> None:
    (cli.workdir / ".env").write_bytes(b"LOG_LEVEL=\xff\xfe\n")
    run = await cli("latest")
    assert_one_line_error(run)
    assert ".env" in run.stderr


async def test_a_closed_pipe_ends_quietly(cli: Cli) -> None:
    await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD))
    for args in (("latest",), ("search", "矩阵"), ("series",), ("latest", "--json")):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            *args,
            cwd=cli.workdir,
            env=cli.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stderr is not None
        # `| head -c 1`: the reader takes one byte and goes away before the command has written everything.
        await proc.stdout.read(1)
        proc.stdout.feed_eof()
        transport = getattr(proc, "_transport", None)
        assert transport is not None
        pipe = transport.get_pipe_transport(1)
        pipe.close()
        err = await asyncio.wait_for(proc.stderr.read(), timeout=30)
        code = await proc.wait()
        assert code == 0 and b"Traceback" not in err and b"BrokenPipe" not in err, (args, err)


async def test_an_empty_store_says_so(cli: Cli) -> None:
    run = await cli("poll", feed_file(cli.workdir / "feed.xml"))
    assert run.code == 0
    for command in ("latest", "series"):
        run = await cli(command)
        assert run.code == 0 and run.stdout == ""
        assert "no posts stored yet" in run.stderr
    assert (await cli("latest", "--json")).json() == []


async def test_a_wrong_count_exits_with_one_status_everywhere(cli: Cli) -> None:
    await cli("poll", feed_file(cli.workdir / "feed.xml", *OLD))
    runs = [
        await cli("latest", "-n", "0"),
        await cli("latest", "-n", "many"),
        await cli("search", "矩阵", "-n", "0"),
        await cli("search", "矩阵", "-n", "1000"),
        await cli("search", "矩阵", "--offset", "-1"),
    ]
    assert {run.code for run in runs} == {2}
    assert all("-n" in run.stderr or "--offset" in run.stderr for run in runs)


async def test_local_sources_only_never_crawl_the_live_site(cli: Cli) -> None:
    feed = feed_file(cli.workdir / "feed.xml", *OLD)
    refused = await cli("backfill", KEXUE_SOURCES=str(feed))
    assert_one_line_error(refused)
    assert "local files only" in refused.stderr


async def test_latest_pages_through_more_than_the_services_page(cli: Cli) -> None:
    posts = [(20000 + i, f"第{i}篇", f"2024-{1 + i // 28:02d}-{1 + i % 28:02d}") for i in range(150)]
    await cli("poll", feed_file(cli.workdir / "feed.xml", *posts))
    shown = [p["id"] for p in (await cli("latest", "-n", "150", "--json")).json()]
    assert len(shown) == len(set(shown)) == 150
    assert shown == sorted(shown, reverse=True)


def test_a_post_known_only_from_a_capture_reads_without_dashes_or_question_marks() -> None:
    from archive.model import Post, PostDate
    from cli.commands.archive_cmds import format_post

    seen = Post(id=None, title="只在快照里见过", date=PostDate.from_iso("--06-17"))
    line = format_post(seen, "kexue.fm")
    assert line.startswith("06-17 ") and "--" not in line and "no link yet" in line
