-- Operations (issue 12): admin alerts about a failing source travel through the outbox like every other
-- message, so the sender's rate limits, retries and dedup apply to them. kind 'alert': recipient an admin's
-- chat id, item `alert:down:<source>@<episode>` or `alert:up:…` (the episode is the source's last success
-- before the failures began, so UNIQUE allows one of each per episode), payload the JSON the text is made of.

-- Rebuilt because the kinds change (SQLite cannot alter a CHECK); every column, row and id is kept.
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL CHECK (channel IN ('telegram', 'email')),
    recipient       TEXT    NOT NULL,
    item            TEXT    NOT NULL,
    kind            TEXT    NOT NULL DEFAULT 'post'
                    CHECK (kind IN ('post', 'burst', 'digest', 'channel', 'alert')),
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

INSERT INTO deliveries_new
SELECT id, channel, recipient, item, kind, priority, status, attempts, next_attempt_at, message_id, payload,
       last_error, created_at, sent_at
FROM deliveries;

DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE INDEX deliveries_due ON deliveries (channel, priority DESC, id)
    WHERE status IN ('pending', 'failed');
CREATE INDEX deliveries_status ON deliveries (status);
CREATE INDEX deliveries_recipient ON deliveries (channel, recipient);
