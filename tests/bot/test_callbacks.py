"""Button data: aiogram CallbackData keeping the wire format of buttons already sent, refusing the rest."""

from __future__ import annotations

import pytest

from bot.callbacks import (
    FollowAll,
    ForgetAnswer,
    LatestMore,
    SearchPage,
    SeriesFollow,
    SeriesIndexPage,
    SeriesShow,
    SettingChange,
)


def test_buttons_already_sent_in_chats_still_unpack_to_the_same_action() -> None:
    assert LatestMore.unpack("l:1:10:5") == LatestMore(offset=10, count=5)
    assert SearchPage.unpack("s:1:Ab_-9:2") == SearchPage(query_id="Ab_-9", page=2)
    assert SeriesIndexPage.unpack("i:1:3").page == 3
    assert SeriesShow.unpack("r:1:42").series_id == 42
    assert SeriesFollow.unpack("f:1:42").series_id == 42
    assert FollowAll.unpack("a:1") == FollowAll()
    assert SettingChange.unpack("c:1:h:+1") == SettingChange(kind="h", value="+1")
    assert SettingChange.unpack("c:1:m:weekly").mode == "weekly"
    assert ForgetAnswer.unpack("x:1:y").confirmed and not ForgetAnswer.unpack("x:1:n").confirmed


def test_what_we_pack_is_what_older_releases_packed() -> None:
    assert LatestMore(offset=10, count=5).pack() == "l:1:10:5"
    assert SettingChange(kind="l", value="en").pack() == "c:1:l:en"
    assert ForgetAnswer(answer="y").pack() == "x:1:y"


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        (LatestMore, "l:1:99999999:5"),  # an offset past the archive
        (LatestMore, "l:1:0:21"),  # more than a page
        (LatestMore, "l:2:0:5"),  # a format version we never sent
        (LatestMore, "l:1:0"),  # a field missing
        (SearchPage, "s:1:../../etc:1"),  # a query id we never made
        (SeriesIndexPage, "i:1:-1"),
        (SettingChange, "c:1:m:hourly"),  # a mode that does not exist
        (SettingChange, "c:1:h:+5"),  # a jump the buttons never offer
        (SettingChange, "c:1:l:fr"),
        (ForgetAnswer, "x:1:maybe"),
    ],
)
def test_data_we_never_sent_does_not_unpack(kind: type[LatestMore], data: str) -> None:
    # aiogram's filter treats both as "not this button": the query falls through to the expired answer.
    with pytest.raises((ValueError, TypeError)):
        kind.unpack(data)


def test_data_over_telegrams_64_bytes_cannot_be_packed() -> None:
    with pytest.raises(ValueError, match="64"):
        SearchPage(query_id="x" * 16, page=1).model_copy(update={"query_id": "y" * 70}).pack()
