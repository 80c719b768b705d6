-- Pull requests of followed repositories as the coordinator last saw them
-- (the poller's list of open pull requests, webhooks): what the Pull
-- requests page lists. open = 0 once a pull request left the open list.
CREATE TABLE pull_requests (
	repo       TEXT NOT NULL,
	number     INTEGER NOT NULL,
	component  TEXT NOT NULL,
	title      TEXT NOT NULL DEFAULT '',
	url        TEXT NOT NULL DEFAULT '',
	head_sha   TEXT NOT NULL DEFAULT '',
	head_ref   TEXT NOT NULL DEFAULT '',
	base_ref   TEXT NOT NULL DEFAULT '',
	draft      INTEGER NOT NULL DEFAULT 0,
	open       INTEGER NOT NULL DEFAULT 1,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (repo, number)
);
