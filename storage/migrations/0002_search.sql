-- Full-text search over every post's title and body (excerpt, then full text where a source gives one).
-- The indexed text is written by `search_index_text()` (storage/textnorm.py, registered on every
-- connection): NFKC, casefolded, words split on punctuation, CJK runs as overlapping bigrams. The table is
-- contentless (the posts table holds the text), with a one-character prefix index for one-character CJK
-- terms (`"秩"*`). Triggers keep it in step with `posts` inside the writing transaction.
CREATE VIRTUAL TABLE search_fts USING fts5(
    title,
    body,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1'
);

CREATE TRIGGER posts_search_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.pk, search_index_text(new.title),
            search_index_text(coalesce(new.excerpt, '') || ' ' || coalesce(new.content, '')));
END;

-- A contentless table forgets a row by being told the tokens it was given: the same deterministic function.
CREATE TRIGGER posts_search_delete AFTER DELETE ON posts BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body)
    VALUES ('delete', old.pk, search_index_text(old.title),
            search_index_text(coalesce(old.excerpt, '') || ' ' || coalesce(old.content, '')));
END;

-- A new reader count rewrites the row too; only a changed text re-indexes it.
CREATE TRIGGER posts_search_update AFTER UPDATE OF pk, title, excerpt, content ON posts
WHEN old.pk IS NOT new.pk OR old.title IS NOT new.title OR old.excerpt IS NOT new.excerpt
     OR old.content IS NOT new.content
BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body)
    VALUES ('delete', old.pk, search_index_text(old.title),
            search_index_text(coalesce(old.excerpt, '') || ' ' || coalesce(old.content, '')));
    INSERT INTO search_fts (rowid, title, body)
    VALUES (new.pk, search_index_text(new.title),
            search_index_text(coalesce(new.excerpt, '') || ' ' || coalesce(new.content, '')));
END;

-- Posts stored before this migration.
INSERT INTO search_fts (rowid, title, body)
SELECT pk, search_index_text(title), search_index_text(coalesce(excerpt, '') || ' ' || coalesce(content, ''))
FROM posts;
