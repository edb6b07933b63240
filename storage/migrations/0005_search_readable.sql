-- Search indexes what a reader reads (issue 8): the blog's LaTeX rendered by `search_readable_text()`
-- (storage/textnorm.py over archive/latex.py: `$\boldsymbol{Q}\boldsymbol{K}^{\top}$` reads `QKᵀ`), never
-- the command names it is written with (`boldsymbol`, `equation`), while the words of `\text{rank}` stay.
--
-- The readable text is stored, one row per post: snippets are cut from it with nothing to render at
-- search time, and the contentless FTS tables are told the tokens of this stored text when they forget a
-- row, so a later change to the LaTeX rendering can never make a delete miss (the tokenizer,
-- `search_index_text()`, must stay deterministic as before). `rebuild_index` re-renders every row.
CREATE TABLE search_readable (
    pk      INTEGER PRIMARY KEY, -- posts.pk
    title   TEXT NOT NULL,
    excerpt TEXT NOT NULL,
    content TEXT NOT NULL        -- '' without full text
);

-- One set of triggers now feeds both FTS tables (migrations 0002 and 0003 had one each).
DROP TRIGGER posts_search_insert;
DROP TRIGGER posts_search_delete;
DROP TRIGGER posts_search_update;
DROP TRIGGER posts_titles_insert;
DROP TRIGGER posts_titles_delete;
DROP TRIGGER posts_titles_update;

CREATE TRIGGER posts_search_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_readable (pk, title, excerpt, content)
    VALUES (new.pk, search_readable_text(new.title), search_readable_text(new.excerpt),
            search_readable_text(new.content));
    INSERT INTO search_fts (rowid, title, body)
    SELECT pk, search_index_text(title), search_index_text(excerpt || ' ' || content)
    FROM search_readable WHERE pk = new.pk;
    INSERT INTO search_titles (rowid, title)
    SELECT pk, search_index_text(title) FROM search_readable WHERE pk = new.pk;
END;

CREATE TRIGGER posts_search_delete AFTER DELETE ON posts BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body)
    SELECT 'delete', pk, search_index_text(title), search_index_text(excerpt || ' ' || content)
    FROM search_readable WHERE pk = old.pk;
    INSERT INTO search_titles (search_titles, rowid, title)
    SELECT 'delete', pk, search_index_text(title) FROM search_readable WHERE pk = old.pk;
    DELETE FROM search_readable WHERE pk = old.pk;
END;

-- A new reader count rewrites the row too; only a changed text re-indexes it.
CREATE TRIGGER posts_search_update AFTER UPDATE OF pk, title, excerpt, content ON posts
WHEN old.pk IS NOT new.pk OR old.title IS NOT new.title OR old.excerpt IS NOT new.excerpt
     OR old.content IS NOT new.content
BEGIN
    INSERT INTO search_fts (search_fts, rowid, title, body)
    SELECT 'delete', pk, search_index_text(title), search_index_text(excerpt || ' ' || content)
    FROM search_readable WHERE pk = old.pk;
    INSERT INTO search_titles (search_titles, rowid, title)
    SELECT 'delete', pk, search_index_text(title) FROM search_readable WHERE pk = old.pk;
    DELETE FROM search_readable WHERE pk = old.pk;
    INSERT INTO search_readable (pk, title, excerpt, content)
    VALUES (new.pk, search_readable_text(new.title), search_readable_text(new.excerpt),
            search_readable_text(new.content));
    INSERT INTO search_fts (rowid, title, body)
    SELECT pk, search_index_text(title), search_index_text(excerpt || ' ' || content)
    FROM search_readable WHERE pk = new.pk;
    INSERT INTO search_titles (rowid, title)
    SELECT pk, search_index_text(title) FROM search_readable WHERE pk = new.pk;
END;

-- The posts stored before: both indexes rebuilt from their readable text.
INSERT INTO search_readable (pk, title, excerpt, content)
SELECT pk, search_readable_text(title), search_readable_text(excerpt), search_readable_text(content)
FROM posts;
INSERT INTO search_fts (search_fts) VALUES ('delete-all');
INSERT INTO search_fts (rowid, title, body)
SELECT pk, search_index_text(title), search_index_text(excerpt || ' ' || content) FROM search_readable;
INSERT INTO search_titles (search_titles) VALUES ('delete-all');
INSERT INTO search_titles (rowid, title) SELECT pk, search_index_text(title) FROM search_readable;
