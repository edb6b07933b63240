-- Readers choose what reaches them: watched words, their own time zone, a pause, and email preferences.

-- A watch is a saved search (`/watch <words>`), in the query language of /search. `query` is the words as the
-- reader typed them (shown back, named in the notification); `terms` is their normalized form (the tokenizer's
-- terms joined by a space), so `Transformer` and `transformer` are one watch: UNIQUE is the dedup. `match` is
-- the FTS5 expression (every term, each quoted) written by storage/watches.py from those terms alone: the
-- fan-out hands it to `search_fts MATCH` as data. `token` is one index token the post must hold for the
-- watch to match (the first of its longest term): the fan-out tries only the watches whose token the new post
-- holds, so ten thousand watches cost a look-up, not ten thousand FTS queries. A reader holds at most ten
-- (counted by the store).
CREATE TABLE watches (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    query         TEXT    NOT NULL,
    terms         TEXT    NOT NULL,
    match         TEXT    NOT NULL,
    token         TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    UNIQUE (subscriber_id, terms)
);
CREATE INDEX watches_token ON watches (token);

-- A new post that matched a reader's watches at fan-out time, with the words that matched (JSON list of the
-- watches' queries). Written in the poll's transaction; the key makes a repeat a no-op, and only posts
-- announced after the watch existed can ever be here (a watch never fires for old posts). Instant readers
-- get it through the outbox, digest readers in their next digest, which reads this table.
CREATE TABLE watch_hits (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    post_pk       INTEGER NOT NULL REFERENCES posts (pk) ON DELETE CASCADE,
    words         TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    PRIMARY KEY (subscriber_id, post_pk)
) WITHOUT ROWID;
CREATE INDEX watch_hits_post ON watch_hits (post_pk);

-- time_zone: an IANA name or a fixed offset (`UTC+08:00`) the digest hour and day are read in; NULL is
-- TIME_ZONE. paused_since: set by /pause (nothing is sent from then on); paused_until: when it ends by
-- itself (NULL with paused_since set: until /resume). When a pause ends, what was published meanwhile goes
-- out as one digest (item `pause:<paused_since>`) and both columns are cleared in that transaction.
ALTER TABLE subscribers ADD COLUMN time_zone TEXT;
ALTER TABLE subscribers ADD COLUMN paused_since TEXT;
ALTER TABLE subscribers ADD COLUMN paused_until TEXT;
CREATE INDEX subscribers_paused ON subscribers (paused_until) WHERE paused_since IS NOT NULL;

-- What the weekly mail to one address holds: every post (`all`, the default without a row), only posts of the
-- chosen series and/or matching `words` (`only`), or nothing (`paused`: no mail at all).
CREATE TABLE email_preferences (
    email_id    INTEGER PRIMARY KEY REFERENCES email_addresses (id) ON DELETE CASCADE,
    scope       TEXT    NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'only', 'paused')),
    series_keys TEXT    NOT NULL DEFAULT '[]',
    words       TEXT    NOT NULL DEFAULT '',
    updated_at  TEXT    NOT NULL
);
