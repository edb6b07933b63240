-- Readers for the bot, delivery and the weekly mail: series numbers for deep links, delivery modes, the
-- email lifecycle (pending → confirmed → unsubscribed, keeping only a hash), and sign-up rate limits.

-- Every stored series gets a short stable number: `/start s<id>` deep links allow only 64 characters of
-- A-Za-z0-9_-, which a series key (CJK, punctuation) is not. A row is never deleted or renumbered, so a link
-- once shared keeps working even if the posts that named the series are retitled.
CREATE TABLE series (
    id   INTEGER PRIMARY KEY,
    key  TEXT    NOT NULL UNIQUE,
    name TEXT    NOT NULL
);

-- The name shown is the one `series_summaries` shows: the newest live spelling. The insert is written as
-- INSERT … WHERE NOT EXISTS rather than INSERT OR IGNORE because an outer `INSERT OR REPLACE` on posts would
-- turn a trigger's OR IGNORE into OR REPLACE, deleting the row and handing out a new id.
CREATE TRIGGER posts_series_insert AFTER INSERT ON posts WHEN new.series_key IS NOT NULL BEGIN
    INSERT INTO series (key, name)
    SELECT new.series_key, coalesce(new.series_name, new.series_key)
    WHERE NOT EXISTS (SELECT 1 FROM series WHERE key = new.series_key);
    UPDATE series SET name = coalesce(
        (SELECT p.series_name FROM posts p WHERE p.series_key = new.series_key AND p.series_name IS NOT NULL
         ORDER BY p.title_is_live DESC, p.date DESC LIMIT 1), name)
    WHERE key = new.series_key;
END;

-- A reader-count refresh rewrites the row without touching these columns: the WHEN keeps it cheap.
CREATE TRIGGER posts_series_update AFTER UPDATE OF series_key, series_name, title_is_live, year, month, day
ON posts
WHEN new.series_key IS NOT NULL AND (
    old.series_key IS NOT new.series_key OR old.series_name IS NOT new.series_name
    OR old.title_is_live IS NOT new.title_is_live OR old.date IS NOT new.date)
BEGIN
    INSERT INTO series (key, name)
    SELECT new.series_key, coalesce(new.series_name, new.series_key)
    WHERE NOT EXISTS (SELECT 1 FROM series WHERE key = new.series_key);
    UPDATE series SET name = coalesce(
        (SELECT p.series_name FROM posts p WHERE p.series_key = new.series_key AND p.series_name IS NOT NULL
         ORDER BY p.title_is_live DESC, p.date DESC LIMIT 1), name)
    WHERE key = new.series_key;
END;

-- Series stored before this migration, numbered oldest first (by their first dated part).
INSERT INTO series (key, name)
SELECT p.series_key,
       coalesce((SELECT p2.series_name FROM posts p2
                 WHERE p2.series_key = p.series_key AND p2.series_name IS NOT NULL
                 ORDER BY p2.title_is_live DESC, p2.date DESC LIMIT 1), p.series_key)
FROM posts p WHERE p.series_key IS NOT NULL
GROUP BY p.series_key
ORDER BY min(p.date) IS NULL, min(p.date), min(p.pk);

-- Telegram readers. chat_type is Telegram's (private, group, supergroup, channel); NULL for a chat stored
-- before this migration, until its next /start. lang_chosen: 1 once the reader picked a language, so a
-- default taken from Telegram's language_code no longer overrides it. mode: instant, or a daily or weekly
-- digest at digest_hour (0-23, TIME_ZONE) and, for weekly, digest_day (0 = Monday … 6 = Sunday, Python's
-- weekday(); APScheduler wants day names). No CHECK on languages: a third catalog needs no schema change.
ALTER TABLE subscribers ADD COLUMN chat_type TEXT;
ALTER TABLE subscribers ADD COLUMN lang_chosen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscribers ADD COLUMN mode TEXT NOT NULL DEFAULT 'instant'
    CHECK (mode IN ('instant', 'daily', 'weekly'));
ALTER TABLE subscribers ADD COLUMN digest_hour INTEGER NOT NULL DEFAULT 8
    CHECK (digest_hour BETWEEN 0 AND 23);
ALTER TABLE subscribers ADD COLUMN digest_day INTEGER NOT NULL DEFAULT 0
    CHECK (digest_day BETWEEN 0 AND 6);

-- The sender walks instant readers by id in batches; the digest job asks who is due at an hour.
CREATE INDEX subscribers_mode ON subscribers (mode, id);
CREATE INDEX subscribers_digest ON subscribers (mode, digest_hour, id);

-- Email addresses, rebuilt because the address must become nullable: an unsubscribed address keeps only
-- its hash (address_hash(): sha256 of the stripped, casefolded address), so a later sign-up of the same
-- address is known to have unsubscribed. The hash is the dedup; the CHECK makes "unsubscribed" and "no
-- address" the same fact. failed_weeks counts consecutive ISO weeks with a permanent failure (the last one
-- in last_failed_week, so one week counts once); bounced_at stops sending. subscriber_id: the Telegram reader
-- who signed the address up from the bot, so that /forget can remove it.
CREATE TABLE email_addresses_new (
    id               INTEGER PRIMARY KEY,
    address          TEXT COLLATE NOCASE,
    address_hash     TEXT    NOT NULL UNIQUE,
    status           TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    lang             TEXT    NOT NULL DEFAULT 'zh',
    subscriber_id    INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    created_at       TEXT    NOT NULL,
    confirm_token    TEXT UNIQUE,
    confirmed_at     TEXT,
    unsubscribed_at  TEXT,
    last_digest_at   TEXT,
    failed_weeks     INTEGER NOT NULL DEFAULT 0,
    last_failed_week TEXT,
    bounced_at       TEXT,
    CHECK ((address IS NULL) = (status = 'unsubscribed'))
);

-- Addresses unsubscribed before this migration keep only their hash too, like those unsubscribed after it.
-- Two old spellings with one hash (the old UNIQUE was ASCII NOCASE, the hash casefolds and strips) keep one
-- row: a subscribed one before a pending one before an unsubscribed one, then the oldest.
INSERT INTO email_addresses_new (
    id, address, address_hash, status, lang, created_at, confirm_token, confirmed_at, unsubscribed_at,
    last_digest_at)
SELECT id,
       CASE WHEN unsubscribed_at IS NOT NULL THEN NULL ELSE trim(address) END,
       address_hash(address),
       CASE WHEN unsubscribed_at IS NOT NULL THEN 'unsubscribed'
            WHEN confirmed_at IS NOT NULL THEN 'confirmed'
            ELSE 'pending' END,
       lang, created_at, confirm_token, confirmed_at, unsubscribed_at, last_digest_at
FROM email_addresses
WHERE true
ORDER BY unsubscribed_at IS NOT NULL, confirmed_at IS NULL, id
ON CONFLICT (address_hash) DO NOTHING;

DROP TABLE email_addresses;
ALTER TABLE email_addresses_new RENAME TO email_addresses;
CREATE INDEX email_addresses_subscriber ON email_addresses (subscriber_id);

-- Sign-up limits (issue 11): confirmation mails per address, sign-ups per Telegram user and per IP, per day.
-- Only hashes are kept (address_hash() of the key); old rows are pruned, they matter for a day.
CREATE TABLE signup_events (
    id       INTEGER PRIMARY KEY,
    kind     TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX signup_events_key ON signup_events (kind, key_hash, at);
