-- How a Telegram reader wants formulas: 'native' (rich messages with Telegram's math) or 'text' (HTML with
-- readable Unicode). No row, or a NULL display, follows the chat: private chats native, groups and channels
-- text. hint_sent_at: when the first rich message carrying the one-tap "Formulas look wrong?" button went
-- out (it is offered once). A row belongs to the reader: forgetting the reader takes it, and it follows the
-- reader when a group becomes a supergroup (the chat id changes, the subscriber row stays).
CREATE TABLE formula_prefs (
    subscriber_id INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    display       TEXT CHECK (display IN ('native', 'text')),
    hint_sent_at  TEXT
);
