-- Conditional-request answers kept across processes (headwatch): the last
-- ETag of each polled URL and the answer it stands for.
CREATE TABLE http_cache (
	url        TEXT PRIMARY KEY,
	etag       TEXT NOT NULL,
	body       BLOB NOT NULL,
	updated_at INTEGER NOT NULL
);
