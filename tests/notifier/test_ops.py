"""`kexue-notifier backup` and `doctor` as the person running the service calls them: real processes."""

from __future__ import annotations

import sqlite3
import tomllib
from contextlib import closing
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from notifier.settings import DEFAULT_DB
from tests.cli.test_main import Cli, cli, feed_file
from tests.cli.test_run import read_until, start_service, stop
from tests.support.blog_server import BlogServer
from tests.support.fixtures import make_feed_xml

__all__ = ["cli"]

TZ = ZoneInfo("Asia/Shanghai")
RSS = "application/rss+xml; charset=UTF-8"


def count(path: Path, table: str) -> int:
    """Rows of `table` in the SQLite file at `path`."""
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_backup_writes_a_copy_and_never_overwrites_unasked(cli: Cli, tmp_path: Path) -> None:
    source = feed_file(tmp_path / "feed.xml", (1, "第一篇", "2025-05-01"), (2, "第二篇", "2025-05-02"))
    assert (await cli("poll", source)).code == 0
    done = await cli("backup", "copy.sqlite3")
    assert done.code == 0, done.stderr
    assert done.stdout.startswith(f"backed up {tmp_path / 'kexue.sqlite3'} to copy.sqlite3 (")
    assert "posts 2" in done.stdout and "schema version" in done.stdout
    assert count(tmp_path / "copy.sqlite3", "posts") == 2

    again = await cli("backup", "copy.sqlite3")
    assert again.code == 1 and again.stdout == ""
    assert again.stderr == (
        "kexue-notifier backup: copy.sqlite3 already exists: "
        "name another file, or pass --force to replace it\n"
    )
    forced = await cli("backup", "--force", "copy.sqlite3", "--json")
    assert forced.code == 0
    report = forced.json()
    assert report["tables"]["posts"] == 2 and report["path"] == "copy.sqlite3"
    assert report["schema_version"] == count_version(tmp_path / "kexue.sqlite3")


def count_version(path: Path) -> int:
    """The `user_version` of the SQLite file at `path`."""
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


async def test_backup_of_a_missing_database_is_one_line_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    run = await cli("backup", "--db", "typo.sqlite3", "copy.sqlite3")
    assert run.code == 1
    assert run.stderr == "kexue-notifier backup: cannot open database typo.sqlite3: it does not exist\n"
    assert not (tmp_path / "typo.sqlite3").exists() and not (tmp_path / "copy.sqlite3").exists()


async def test_backup_while_the_service_runs(tmp_path: Path, blog_server: BlogServer) -> None:
    items = [(10_000 + i, f"文章{i}", datetime(2025, 5, 1, 9, tzinfo=TZ), f"摘要{i}") for i in range(1, 21)]
    blog_server.set("/feed", make_feed_xml(items), content_type=RSS)
    proc = await start_service(
        tmp_path, KEXUE_SOURCES=blog_server.url("/feed"), KEXUE_NOW="2025-05-10T12:00:00+08:00"
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        await read_until(proc.stderr, "(baseline)", seen)
        cli = Cli(tmp_path)
        run = await cli("backup", "--db", str(tmp_path / "k.sqlite3"), "copy.sqlite3")
    finally:
        assert await stop(proc, seen) == 0
    assert run.code == 0, run.stderr
    assert count(tmp_path / "copy.sqlite3", "posts") == 20
    assert count_version(tmp_path / "copy.sqlite3") == count_version(tmp_path / "k.sqlite3")


ROOT = Path(__file__).parents[2]


def test_the_image_and_the_unit_match_the_code() -> None:
    """Every package pyproject installs (and the templates) is copied; the database directory is writable."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    for include in [*packages["packages"]["find"]["include"], "templates*"]:
        name = include.rstrip("*")
        assert f"COPY {name} ./{name}" in dockerfile, name
    var = Path(DEFAULT_DB).parent
    assert f'VOLUME ["/app/{var}"]' in dockerfile and 'CMD ["kexue-notifier", "run"]' in dockerfile
    unit = (ROOT / "deploy" / "kexue-notifier.service").read_text(encoding="utf-8")
    workdir = next(
        line.split("=", 1)[1] for line in unit.splitlines() if line.startswith("WorkingDirectory=")
    )
    assert f"ReadWritePaths={workdir}/{var}" in unit
    assert f"ExecStart={workdir}/.venv/bin/kexue-notifier run" in unit
