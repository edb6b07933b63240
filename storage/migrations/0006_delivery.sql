-- Delivery (issue 10): the outbox rows the sender works through, a lease so one process sends, and a per-chat
-- memory of whether Telegram takes rich messages there.

-- Rebuilt because the states change (SQLite cannot alter a CHECK). status: pending (never tried, or put back
-- after a 429 or a migration), sending (committed before the request, so a kill repeats at most the rows in
-- flight), sent (with Telegram's message id), failed (an attempt failed; retried at next_attempt_at), dead
-- (given up, reason in last_error). kind: post (one new post), burst (several new posts as one digest, payload
-- holds their pks), digest (a scheduled daily or weekly digest, item names its period), channel (CHANNEL_ID).
-- next_attempt_at is Unix time (seconds), a wall-clock instant every process on the machine agrees on.
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL CHECK (channel IN ('telegram', 'email')),
    recipient       TEXT    NOT NULL,
    item            TEXT    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT 'post' CHECK (kind IN ('post', 'burst', 'digest', 'channel')),
    priority        INTEGER NOT NULL DEFAULT 0,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL DEFAULT 0,
    message_id      INTEGER,
    payload         TEXT,
    last_error      TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT,
    UNIQUE (channel, recipient, item)
);

-- Old rows keep their ids; 'dropped' (never used by a sender) is the new 'dead'.
INSERT INTO deliveries_new (id, channel, recipient, item, status, attempts, last_error, created_at, sent_at)
SELECT id, channel, recipient, item,
       CASE status WHEN 'dropped' THEN 'dead' ELSE status END,
       attempts, last_error, created_at, sent_at
FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

-- The sender's question, "what is due now, most urgent first", reads only this partial index.
CREATE INDEX deliveries_due ON deliveries (channel, priority DESC, id)
    WHERE status IN ('pending', 'failed');
-- Counts by state for /stats and the metrics; forget and migrate find a recipient's rows.
CREATE INDEX deliveries_status ON deliveries (status);
CREATE INDEX deliveries_recipient ON deliveries (channel, recipient);

-- Named leases: the sender's, and the bot's getUpdates long poll. A holder renews before expires_at (Unix
-- time); another process takes the lease over once it has expired.
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL
) WITHOUT ROWID;

-- 0 once Telegram refused a rich message in this chat: it then gets the HTML rendering without trying again.
ALTER TABLE subscribers ADD COLUMN rich_ok INTEGER NOT NULL DEFAULT 1;
