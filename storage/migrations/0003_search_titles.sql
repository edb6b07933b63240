-- Titles alone, tokenized like search_fts. The all-terms-in-title tier of a ranked search asks this small
-- table instead of the title column of search_fts: a column filter still walks every posting of a term
-- (bodies included), and bm25's idf walks them again, while here a term's postings are its titles only.
CREATE VIRTUAL TABLE search_titles USING fts5(
    title,
    content = '',
    tokenize = 'unicode61 remove_diacritics 0',
    prefix = '1'
);

CREATE TRIGGER posts_titles_insert AFTER INSERT ON posts BEGIN
    INSERT INTO search_titles (rowid, title) VALUES (new.pk, search_index_text(new.title));
END;

CREATE TRIGGER posts_titles_delete AFTER DELETE ON posts BEGIN
    INSERT INTO search_titles (search_titles, rowid, title)
    VALUES ('delete', old.pk, search_index_text(old.title));
END;

CREATE TRIGGER posts_titles_update AFTER UPDATE OF pk, title ON posts
WHEN old.pk IS NOT new.pk OR old.title IS NOT new.title
BEGIN
    INSERT INTO search_titles (search_titles, rowid, title)
    VALUES ('delete', old.pk, search_index_text(old.title));
    INSERT INTO search_titles (rowid, title) VALUES (new.pk, search_index_text(new.title));
END;

INSERT INTO search_titles (rowid, title) SELECT pk, search_index_text(title) FROM posts;
