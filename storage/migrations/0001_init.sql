-- The archive: every post the blog ever published, keyed by its archive id when known.
CREATE TABLE posts (
    pk            INTEGER PRIMARY KEY,
    archive_id    INTEGER UNIQUE,
    title         TEXT    NOT NULL,
    title_key     TEXT    NOT NULL,
    title_is_live INTEGER NOT NULL DEFAULT 1,
    year          INTEGER,
    month         INTEGER NOT NULL,
    day           INTEGER NOT NULL,
    -- ISO date when the year is known, else NULL: sorts and range-filters without string games.
    date          TEXT GENERATED ALWAYS AS (
                      CASE WHEN year IS NULL THEN NULL
                           ELSE printf('%04d-%02d-%02d', year, month, day) END) STORED,
    readers       INTEGER,
    excerpt       TEXT    NOT NULL DEFAULT '',
    content       TEXT,
    series_name   TEXT,
    series_key    TEXT,
    series_part   INTEGER,
    first_seen_at TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX posts_title_key ON posts (title_key);
-- A post without an id is identified by its title alone: two of them with one title are one post.
CREATE UNIQUE INDEX posts_title_key_without_id ON posts (title_key) WHERE archive_id IS NULL;
CREATE INDEX posts_date ON posts (date);
CREATE INDEX posts_series ON posts (series_key, series_part);

-- Reader counts over time: the weekly digest ranks posts by growth.
CREATE TABLE reader_counts (
    post_pk     INTEGER NOT NULL REFERENCES posts (pk) ON DELETE CASCADE,
    observed_at TEXT    NOT NULL,
    readers     INTEGER NOT NULL,
    PRIMARY KEY (post_pk, observed_at)
) WITHOUT ROWID;

-- Per-source fetch state: conditional-GET validators and backoff after failures.
CREATE TABLE sources (
    url             TEXT PRIMARY KEY,
    etag            TEXT,
    last_modified   TEXT,
    last_success_at TEXT,
    last_error      TEXT,
    last_error_at   TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT
);

-- One row per poll cycle; the last successful one anchors the "new" window.
CREATE TABLE polls (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    baseline    INTEGER NOT NULL DEFAULT 0,
    ok          INTEGER NOT NULL DEFAULT 0,
    new_count   INTEGER NOT NULL DEFAULT 0
);

-- The outbox: a post announced as new. UNIQUE(post_pk) is the claim that makes two pollers announce once.
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY,
    post_pk   INTEGER NOT NULL UNIQUE REFERENCES posts (pk) ON DELETE CASCADE,
    poll_id   INTEGER REFERENCES polls (id),
    queued_at TEXT    NOT NULL
);

-- Resumable crawls (backfill, reader-count refresh): what is done, so a restart goes on where it stopped.
CREATE TABLE crawl_state (
    crawl      TEXT NOT NULL,
    item       TEXT NOT NULL,
    done_at    TEXT NOT NULL,
    PRIMARY KEY (crawl, item)
) WITHOUT ROWID;

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Readers, for the bot and the mail digest that build on this store.
CREATE TABLE subscribers (
    id             INTEGER PRIMARY KEY,
    chat_id        INTEGER NOT NULL UNIQUE,
    lang           TEXT    NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en')),
    created_at     TEXT    NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1,
    blocked_at     TEXT,
    last_digest_at TEXT
);

CREATE TABLE email_addresses (
    id              INTEGER PRIMARY KEY,
    address         TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    lang            TEXT    NOT NULL DEFAULT 'zh' CHECK (lang IN ('zh', 'en')),
    created_at      TEXT    NOT NULL,
    confirm_token   TEXT UNIQUE,
    confirmed_at    TEXT,
    unsubscribed_at TEXT,
    last_digest_at  TEXT
);

-- What a subscriber follows: everything, or one series (by normalized key).
CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT    NOT NULL CHECK (kind IN ('all', 'series')),
    series_key    TEXT    NOT NULL DEFAULT '',
    created_at    TEXT    NOT NULL,
    UNIQUE (subscriber_id, kind, series_key)
);

-- One delivery per (recipient, item, channel): the UNIQUE key is the dedup across crashes and restarts.
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY,
    channel      TEXT    NOT NULL CHECK (channel IN ('telegram', 'email')),
    recipient    TEXT    NOT NULL,
    item         TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   TEXT    NOT NULL,
    sent_at      TEXT,
    UNIQUE (channel, recipient, item)
);
