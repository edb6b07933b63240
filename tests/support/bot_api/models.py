"""The Bot API double's data: limits, the people and chats of a test, what the server records."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456789:AAHlocal-test-token_kexue-notifier"

# Telegram's documented limits.
MESSAGE_LIMIT = 4096  # UTF-16 units of text after entity parsing
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
CALLBACK_ANSWER_LIMIT = 200
INLINE_RESULTS_LIMIT = 50
INLINE_OFFSET_LIMIT = 64  # bytes
COMMANDS_LIMIT = 100
COMMAND_DESCRIPTION_LIMIT = 256
DESCRIPTION_LIMIT = 512
SHORT_DESCRIPTION_LIMIT = 120
RICH_TEXT_LIMIT = 32768  # characters, formula sources included
RICH_BLOCK_LIMIT = 500
RICH_DEPTH_LIMIT = 16

# Update types Telegram leaves out unless asked for by name.
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CONFLICT_TERMINATED = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


# -- the people and chats of a test ---------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A Telegram user as the server sends it in updates."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_json(self) -> JSON:
        """The User object of the Bot API."""
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


# The sender Telegram shows for a message an administrator posts anonymously, as the group itself.
ANONYMOUS_ADMIN = User(1087968824, "Group", username="GroupAnonymousBot", is_bot=True)


@dataclass(frozen=True)
class Chat:
    """A chat: private (id = the user's id), group, supergroup or channel."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None

    def to_json(self) -> JSON:
        """The Chat object of the Bot API."""
        out: JSON = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class BotInfo:
    """The bot's identity, as getMe answers it."""

    id: int
    first_name: str = "Kexue Notifier"
    username: str = "kexue_notifier_bot"
    can_join_groups: bool = True
    can_read_all_group_messages: bool = False
    supports_inline_queries: bool = True

    def user(self) -> User:
        """The bot as a User, the author of its messages."""
        return User(self.id, self.first_name, username=self.username, is_bot=True)

    def to_json(self) -> JSON:
        """getMe's result."""
        return {
            **self.user().to_json(),
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
        }


# -- what the server records ----------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One request the server answered: its method, parameters, chat, when, and the outcome."""

    method: str
    params: Mapping[str, Any]
    chat_id: int | str | None
    at: float  # the server's clock when the request arrived
    status: int
    description: str | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent, in its current version (edits replace it)."""

    chat_id: int
    message_id: int
    method: str
    text: str | None  # as sent (HTML source under parse_mode HTML); the caption for media
    parse_mode: str | None
    plain: str  # the text Telegram shows: entities parsed, outer whitespace trimmed
    entities: tuple[JSON, ...]
    reply_markup: JSON | None
    rich_message: JSON | None  # the InputRichMessage of sendRichMessage, as sent
    math: tuple[str, ...]  # the LaTeX of every math block or inline formula of a rich message
    date: int
    result: JSON = field(compare=False)  # the Message object the server answered
    edit_date: int | None = None
    file: UploadedFile | None = None

    @property
    def callback_data(self) -> list[str]:
        """Every callback_data of the inline keyboard, row by row."""
        return [
            button["callback_data"]
            for row in (self.reply_markup or {}).get("inline_keyboard", [])
            for button in row
            if isinstance(button, dict) and "callback_data" in button
        ]


@dataclass(frozen=True)
class Edit:
    """One accepted edit of a bot message."""

    chat_id: int
    message_id: int
    method: str
    text: str | None
    parse_mode: str | None
    plain: str
    reply_markup: JSON | None
    rich_message: JSON | None
    at: float


@dataclass(frozen=True)
class CallbackAnswer:
    """The bot's answerCallbackQuery for one button press."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass(frozen=True)
class InlineAnswer:
    """The bot's answerInlineQuery for one inline query."""

    inline_query_id: str
    results: tuple[JSON, ...]
    next_offset: str | None
    cache_time: int | None
    is_personal: bool
    button: JSON | None


# The rights of the bot as a channel administrator: what ChatMemberAdministrator requires.
_ADMIN_RIGHTS: JSON = {
    **dict.fromkeys(("can_manage_chat", "can_delete_messages", "can_post_messages"), True),
    **dict.fromkeys(
        (
            "can_be_edited",
            "is_anonymous",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
            "can_send_welcome_messages",
        ),
        False,
    ),
}

# Who a chat member can be, as getChatMember names them.
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})

# A restricted member as ChatMemberRestricted requires it: still in the group, allowed to write.
_RESTRICTED: JSON = {
    "is_member": True,
    "until_date": 0,
    **dict.fromkeys(
        (
            "can_send_messages",
            "can_send_audios",
            "can_send_documents",
            "can_send_photos",
            "can_send_videos",
            "can_send_video_notes",
            "can_send_voice_notes",
            "can_send_polls",
            "can_send_other_messages",
            "can_add_web_page_previews",
            "can_react_to_messages",
        ),
        True,
    ),
    **dict.fromkeys(
        ("can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages", "can_manage_topics"),
        False,
    ),
}
