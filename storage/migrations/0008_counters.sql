-- Operations (issue 12): counters for /metrics (messages sent, failed attempts by reason, 429s, emails sent
-- and bounced). Each is incremented in the transaction that records its event, so a restart, a crash or a
-- second process on the same file neither loses nor repeats a count. `label` is '' for unlabelled counters.
CREATE TABLE counters (
    name  TEXT    NOT NULL,
    label TEXT    NOT NULL DEFAULT '',
    value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0),
    PRIMARY KEY (name, label)
) WITHOUT ROWID;

-- What the outbox already shows as done counts from the start, so the counters begin at the history.
INSERT INTO counters (name, label, value)
SELECT 'messages_sent', '', count(*) FROM deliveries
WHERE channel = 'telegram' AND status = 'sent' AND message_id IS NOT NULL
HAVING count(*) > 0;

INSERT INTO counters (name, label, value)
SELECT 'emails_sent', '', count(*) FROM deliveries
WHERE channel = 'email' AND status = 'sent' AND coalesce(last_error, '') NOT LIKE 'skipped: %'
HAVING count(*) > 0;

INSERT INTO counters (name, label, value)
SELECT 'emails_bounced', '', count(*) FROM deliveries
WHERE channel = 'email' AND status = 'failed' AND last_error LIKE 'permanent: %'
HAVING count(*) > 0;
