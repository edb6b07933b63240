-- The index learns how readers type formulas: a word with raised or lowered parts (`QKᵀ`, indexed `qkt`)
-- is also indexed without them (`qk`), and bare display environments outside `$…$` are rendered like the
-- formulas inside it. Both change what `search_readable_text()` and `search_index_text()` return, so every
-- row is re-rendered and re-indexed (the contentless tables are cleared whole, then filled again).
INSERT INTO search_fts (search_fts) VALUES ('delete-all');
INSERT INTO search_titles (search_titles) VALUES ('delete-all');
DELETE FROM search_readable;
INSERT INTO search_readable (pk, title, excerpt, content)
SELECT pk, search_readable_text(title), search_readable_text(excerpt), search_readable_text(content) FROM posts;
INSERT INTO search_fts (rowid, title, body)
SELECT pk, search_index_text(title), search_index_text(excerpt || ' ' || content) FROM search_readable;
INSERT INTO search_titles (rowid, title) SELECT pk, search_index_text(title) FROM search_readable;
