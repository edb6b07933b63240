-- Confirmation mails go through this queue, sent after the sign-up is answered (so that no answer's status,
-- text or timing depends on the mail server or on the address's state), retried while SMTP is down.
-- subscriber_id: the Telegram reader who asked (NULL: the web). An address is linked to a reader only when
-- that reader's own confirmation link is used, never at sign-up.
-- status: waiting (to be sent once next_at has passed), sent, dropped (given up, or nothing to send any more).
CREATE TABLE confirmation_mails (
    id            INTEGER PRIMARY KEY,
    email_id      INTEGER NOT NULL REFERENCES email_addresses (id) ON DELETE CASCADE,
    subscriber_id INTEGER REFERENCES subscribers (id) ON DELETE CASCADE,
    lang          TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'sent', 'dropped')),
    created_at    TEXT    NOT NULL,
    next_at       TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    sent_at       TEXT
);
-- One waiting mail per address and asker: a second sign-up while the first mail waits adds nothing.
CREATE UNIQUE INDEX confirmation_mails_waiting
    ON confirmation_mails (email_id, coalesce(subscriber_id, 0)) WHERE status = 'waiting';
CREATE INDEX confirmation_mails_due ON confirmation_mails (next_at) WHERE status = 'waiting';
CREATE INDEX confirmation_mails_asker ON confirmation_mails (subscriber_id);

-- Sign-ups used to link a pending address to the reader who typed it: nobody confirmed those links.
UPDATE email_addresses SET subscriber_id = NULL WHERE status = 'pending';
