"""The subscriber store against a real SQLite file: /start, follows, settings, blocks, migration, forget."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from archive.model import Post, PostDate
from archive.series import detect_series
from storage.db import Database
from storage.emails import EmailStore
from storage.posts import iso
from storage.subscribers import FollowChange, SeriesRef, Subscriber, SubscriberStore, UnknownSubscriber
from tests.support.store import seed

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 5, 10, 12, 0, tzinfo=TZ)
GROUP = -4_000_000_001
SUPERGROUP = -1_002_000_000_001
USER = 7_000_000_001  # beyond 32 bits, as Telegram's ids now are

MOE = "MoE环游记：1、从几何意义出发"
LOW_RANK = "低秩近似之路（一）：伪逆"


def post(ident: int, title: str, day: str) -> Post:
    """A post as a parser would produce it."""
    return Post(id=ident, title=title, date=PostDate.from_iso(day))


def key_of(title: str) -> str:
    """The series key the post store writes for this title."""
    from archive.identity import series_key

    found = detect_series(title)
    assert found is not None
    return series_key(found.name)


async def start(db: Database, chat_id: int, lang: str = "zh", chat_type: str = "private") -> Subscriber:
    """/start in its own transaction."""
    async with db.transaction() as conn:
        return (
            await SubscriberStore(conn).start(chat_id, chat_type=chat_type, lang=lang, now=NOW)
        ).subscriber


async def reader_id(store: SubscriberStore, chat_id: int) -> int:
    """The row id of a stored chat."""
    found = await store.get(chat_id)
    assert found is not None
    return found.id


async def store_series(db: Database) -> tuple[str, str]:
    """Two series in the post store; their keys."""
    await seed(db, [post(10699, MOE, "2025-02-21"), post(10366, LOW_RANK, "2024-09-15")], now=NOW)
    return key_of(MOE), key_of(LOW_RANK)


async def test_start_creates_once_and_keeps_a_chosen_language(db: Database) -> None:
    async with db.transaction() as conn:
        first = await SubscriberStore(conn).start(USER, chat_type="private", lang="en", now=NOW)
    assert first.created and not first.reactivated
    reader = first.subscriber
    assert (reader.chat_id, reader.chat_type, reader.lang, reader.lang_chosen) == (
        USER,
        "private",
        "en",
        False,
    )
    assert (reader.mode, reader.active, reader.blocked_at, reader.created_at) == ("instant", True, None, NOW)
    # Telegram's language_code changed: an unchosen language follows it.
    async with db.transaction() as conn:
        again = await SubscriberStore(conn).start(USER, chat_type="private", lang="zh", now=NOW)
    assert not again.created and again.subscriber.id == reader.id and again.subscriber.lang == "zh"
    async with db.transaction() as conn:
        chosen = await SubscriberStore(conn).set_language(USER, "en")
    assert chosen.lang == "en" and chosen.lang_chosen
    async with db.transaction() as conn:
        later = await SubscriberStore(conn).start(USER, chat_type=None, lang="zh", now=NOW)
    assert later.subscriber.lang == "en" and later.subscriber.chat_type == "private"
    assert (await SubscriberStore(db.conn).counts()).total == 1


async def test_one_reader_per_chat_is_a_constraint_of_the_table(db: Database) -> None:
    await start(db, USER)
    with pytest.raises(Exception, match="UNIQUE"):
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO subscribers (chat_id, created_at) VALUES (?, ?)", (USER, iso(NOW))
            )


async def test_follow_and_unfollow_say_what_changed(db: Database) -> None:
    moe, low_rank = await store_series(db)
    await start(db, USER)
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        assert await store.follow_all(USER, NOW) is FollowChange.ADDED
        assert await store.follow_all(USER, NOW) is FollowChange.ALREADY
        assert await store.follow_series(USER, moe, NOW) is FollowChange.ADDED
        assert await store.follow_series(USER, moe, NOW) is FollowChange.ALREADY
        assert await store.follow_series(USER, "没有这个系列", NOW) is FollowChange.UNKNOWN_SERIES
    follows = await SubscriberStore(db.conn).follows(USER)
    assert follows.everything and follows.series_keys == {moe}
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        assert await store.unfollow_series(USER, low_rank) is FollowChange.NOT_FOLLOWING
        assert await store.unfollow_series(USER, moe) is FollowChange.REMOVED
        # Following everything is untouched by unfollowing one series.
        assert (await store.follows(USER)).everything
        await store.follow_series(USER, low_rank, NOW)
        assert await store.unfollow_all(USER) is FollowChange.REMOVED
        assert not (await store.follows(USER)).anything
        assert await store.unfollow_all(USER) is FollowChange.NOT_FOLLOWING
        assert await store.unfollow_all(42) is FollowChange.NOT_FOLLOWING
    with pytest.raises(UnknownSubscriber):
        async with db.transaction() as conn:
            await SubscriberStore(conn).follow_all(42, NOW)


async def test_settings_modes_hours_and_days(db: Database) -> None:
    await start(db, USER)
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        weekly = await store.set_mode(USER, "weekly", hour=20, day=6)
        assert (weekly.mode, weekly.digest_hour, weekly.digest_day) == ("weekly", 20, 6)
        instant = await store.set_mode(USER, "instant")
        daily = await store.set_mode(USER, "daily")
    # Back to a digest: the time chosen before is kept.
    assert instant.mode == "instant" and (daily.mode, daily.digest_hour, daily.digest_day) == ("daily", 20, 6)
    for bad in ({"hour": 24}, {"hour": -1}, {"day": 7}):
        with pytest.raises(ValueError):
            async with db.transaction() as conn:
                await SubscriberStore(conn).set_mode(USER, "weekly", **bad)
    with pytest.raises(ValueError):
        async with db.transaction() as conn:
            await SubscriberStore(conn).set_mode(USER, "hourly", hour=1)  # type: ignore[arg-type]
    assert (await SubscriberStore(db.conn).get(USER)) == daily
    # The table refuses what the store would, whoever writes.
    with pytest.raises(Exception, match="CHECK"):
        async with db.transaction() as conn:
            await conn.execute("UPDATE subscribers SET digest_day = 7")


async def test_block_and_reactivate(db: Database) -> None:
    await start(db, USER)
    later = NOW + timedelta(hours=1)
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        assert await store.block(USER, later)
        assert not await store.block(USER, later + timedelta(hours=1))
    blocked = await SubscriberStore(db.conn).get(USER)
    assert blocked is not None and not blocked.reachable and blocked.blocked_at == later
    counts = await SubscriberStore(db.conn).counts()
    assert counts.inactive == 1 and sum(counts.active.values()) == 0
    async with db.transaction() as conn:
        back = await SubscriberStore(conn).start(USER, chat_type="private", lang="zh", now=NOW)
    assert back.reactivated and back.subscriber.reachable and back.subscriber.blocked_at is None
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        await store.block(USER, later)
        assert await store.reactivate(USER)
        assert not await store.reactivate(USER)


async def test_matching_instant_pages_by_id_and_filters_follows_mode_and_blocks(db: Database) -> None:
    moe, low_rank = await store_series(db)
    everything, series_fan, other_fan, daily_fan, blocked_fan = 101, 102, 103, 104, 105
    for chat in (everything, series_fan, other_fan, daily_fan, blocked_fan, 106):
        await start(db, chat)
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        await store.follow_all(everything, NOW)
        await store.follow_series(series_fan, moe, NOW)
        await store.follow_series(other_fan, low_rank, NOW)
        await store.follow_all(daily_fan, NOW)
        await store.set_mode(daily_fan, "daily", hour=8)
        await store.follow_all(blocked_fan, NOW)
        await store.block(blocked_fan, NOW)
    reader = SubscriberStore(db.conn)
    matched = await reader.matching_instant(moe, after_id=0, limit=10)
    assert [s.chat_id for s in matched] == [everything, series_fan]
    assert [s.chat_id for s in await reader.matching_instant(None, 0, 10)] == [everything]
    first = await reader.matching_instant(low_rank, 0, 1)
    second = await reader.matching_instant(low_rank, first[-1].id, 1)
    third = await reader.matching_instant(low_rank, second[-1].id, 1)
    assert [s.chat_id for s in first + second] == [everything, other_fan] and third == []


async def test_migrating_a_group_keeps_follows_settings_and_deliveries(db: Database) -> None:
    moe, _ = await store_series(db)
    await start(db, GROUP, lang="en", chat_type="group")
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        await store.follow_series(GROUP, moe, NOW)
        await store.set_mode(GROUP, "weekly", hour=7, day=2)
        await conn.execute(
            "INSERT INTO deliveries (channel, recipient, item, status, created_at) "
            "VALUES ('telegram', ?, 'post:10699', 'sent', ?)",
            (str(GROUP), iso(NOW)),
        )
    before = await SubscriberStore(db.conn).get(GROUP)
    async with db.transaction() as conn:
        moved = await SubscriberStore(conn).migrate_chat(GROUP, SUPERGROUP)
    assert moved is not None and before is not None
    assert (moved.id, moved.chat_id, moved.chat_type, moved.lang) == (
        before.id,
        SUPERGROUP,
        "supergroup",
        "en",
    )
    assert (moved.mode, moved.digest_hour, moved.digest_day) == ("weekly", 7, 2)
    reader = SubscriberStore(db.conn)
    assert await reader.get(GROUP) is None
    assert (await reader.follows(SUPERGROUP)).series_keys == {moe}
    async with db.conn.execute("SELECT recipient FROM deliveries") as c:
        assert [row[0] for row in await c.fetchall()] == [str(SUPERGROUP)]


async def test_migrating_onto_an_existing_reader_merges_the_two(db: Database) -> None:
    moe, low_rank = await store_series(db)
    old_start = NOW - timedelta(days=30)
    async with db.transaction() as conn:
        store = SubscriberStore(conn)
        await store.start(GROUP, chat_type="group", lang="zh", now=old_start)
        await store.set_language(GROUP, "en")
        await store.follow_series(GROUP, moe, NOW)
        await store.follow_series(GROUP, low_rank, NOW)
        await store.set_mode(GROUP, "daily", hour=21)
        old_id = await reader_id(store, GROUP)
        await store.mark_digest_sent(old_id, NOW - timedelta(days=1))
        # Someone used the bot in the supergroup before the move reached us.
        await store.start(SUPERGROUP, chat_type="supergroup", lang="zh", now=NOW)
        await store.follow_all(SUPERGROUP, NOW)
        await store.follow_series(SUPERGROUP, moe, NOW)
        emails = EmailStore(conn)
        signed = await emails.sign_up("admin@example.org", lang="en", now=NOW)
        await emails.confirm(signed.email.id, NOW, subscriber_id=old_id)
        for chat, item in ((GROUP, "post:1"), (GROUP, "post:2"), (SUPERGROUP, "post:2")):
            await conn.execute(
                "INSERT INTO deliveries (channel, recipient, item, created_at) VALUES ('telegram', ?, ?, ?)",
                (str(chat), item, iso(NOW)),
            )
        merged = await store.migrate_chat(GROUP, SUPERGROUP)
    assert merged is not None
    assert (merged.lang, merged.lang_chosen, merged.mode, merged.digest_hour) == ("en", True, "daily", 21)
    assert merged.created_at == old_start and merged.last_digest_at == NOW - timedelta(days=1)
    reader = SubscriberStore(db.conn)
    follows = await reader.follows(SUPERGROUP)
    assert follows.everything and follows.series_keys == {moe, low_rank}
    assert await reader.get(GROUP) is None and (await reader.counts()).total == 1
    moved_email = await EmailStore(db.conn).get(signed.email.id)
    assert moved_email is not None and moved_email.subscriber_id == merged.id
    async with db.conn.execute("SELECT recipient, item FROM deliveries ORDER BY item") as c:
        rows = [tuple(row) for row in await c.fetchall()]
    assert rows == [(str(SUPERGROUP), "post:1"), (str(SUPERGROUP), "post:2")]


async def test_forget_removes_everything_about_the_reader_and_nothing_else(db: Database) -> None:
    moe, _ = await store_series(db)
    other = USER + 1
    for chat in (USER, other):
        await start(db, chat)
    async with db.transaction() as conn:
        store, emails = SubscriberStore(conn), EmailStore(conn)
        await store.follow_all(USER, NOW)
        await store.follow_series(USER, moe, NOW)
        await store.follow_all(other, NOW)
        me = await reader_id(store, USER)
        mine = await emails.sign_up("me@example.org", lang="zh", now=NOW)
        await emails.confirm(mine.email.id, NOW, subscriber_id=me)
        gone = await emails.sign_up("old@example.org", lang="zh", now=NOW)
        await emails.confirm(gone.email.id, NOW, subscriber_id=me)
        await emails.unsubscribe(gone.email.id, NOW)
        theirs = await emails.sign_up("web@example.org", lang="zh", now=NOW)
        for channel, recipient in (
            ("telegram", str(USER)),
            ("telegram", str(other)),
            ("email", str(mine.email.id)),
            ("email", str(theirs.email.id)),
        ):
            await conn.execute(
                "INSERT INTO deliveries (channel, recipient, item, created_at) VALUES (?, ?, 'post:1', ?)",
                (channel, recipient, iso(NOW)),
            )
        await emails.record_event("signup_telegram", str(USER), NOW)
        assert await store.forget(USER)
        assert not await store.forget(USER)
    reader = SubscriberStore(db.conn)
    assert await reader.get(USER) is None and not (await reader.follows(USER)).anything
    assert (await reader.follows(other)).everything
    async with db.conn.execute("SELECT count(*) FROM subscriptions WHERE subscriber_id = ?", (me,)) as c:
        assert await c.fetchone() == (0,)
    remaining = EmailStore(db.conn)
    assert await remaining.get(mine.email.id) is None and await remaining.get(gone.email.id) is None
    assert await remaining.find("web@example.org") is not None
    async with db.conn.execute("SELECT channel, recipient FROM deliveries ORDER BY channel") as c:
        rows = [tuple(row) for row in await c.fetchall()]
    assert rows == [("email", str(theirs.email.id)), ("telegram", str(other))]
    # The rate-limit record stays: forgetting must not reset the limit.
    assert await remaining.count_events("signup_telegram", str(USER), NOW - timedelta(days=1)) == 1


async def test_series_get_stable_short_ids_from_the_post_store(db: Database) -> None:

    await seed(db, [post(10699, MOE, "2025-02-21")], now=NOW)
    reader = SubscriberStore(db.conn)
    moe_id = await reader.series_id(key_of(MOE))
    assert moe_id is not None
    found = await reader.series_by_id(moe_id)
    assert found is not None and found.key == key_of(MOE) and found.name == "MoE环游记"
    # More parts, a re-seen post with new readers, another series: the id stays.
    await seed(
        db,
        [
            post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-28"),
            post(10699, MOE, "2025-02-21"),
            post(10366, LOW_RANK, "2024-09-15"),
        ],
        now=NOW + timedelta(days=1),
    )
    assert await reader.series_id(key_of(MOE)) == moe_id
    low_rank_id = await reader.series_id(key_of(LOW_RANK))
    assert low_rank_id is not None and low_rank_id != moe_id
    assert await reader.series_by_id(low_rank_id + 100) is None
    async with db.conn.execute("SELECT count(*) FROM series") as c:
        assert await c.fetchone() == (2,)


async def test_a_series_shows_its_live_spelling_whatever_was_stored_first(db: Database) -> None:

    capture = Post(
        id=None,
        title="moe环游记：1、从几何意义出发",
        date=PostDate.from_iso("2025-02-21"),
        title_is_live=False,
    )
    await seed(db, [capture], now=NOW)
    reader = SubscriberStore(db.conn)
    series_id = await reader.series_id(key_of(MOE))
    assert series_id is not None
    assert (await reader.series_by_id(series_id)) == SeriesRef(series_id, key_of(MOE), "moe环游记")
    await seed(db, [post(10735, "MoE环游记：2、不患寡而患不均", "2025-02-28")], now=NOW)
    assert (await reader.series_by_id(series_id)) == SeriesRef(series_id, key_of(MOE), "MoE环游记")
