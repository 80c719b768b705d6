-- Notifications: e-mail subscriptions, what each subscriber was last told, the
-- e-mail outbox, and the one living comment per pull request.

-- A subscription routes events of a component (and optionally one branch) to an
-- address. branch '' means every branch; events is a comma-separated kind list.
CREATE TABLE subscriptions (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	email      TEXT NOT NULL,
	component  TEXT NOT NULL,
	branch     TEXT NOT NULL DEFAULT '',
	events     TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (email, component, branch)
);

-- What a subscriber was last told about a target, per class of event ("health":
-- red or green). It is the defensive de-duplication: one e-mail per state change.
CREATE TABLE notify_state (
	email      TEXT NOT NULL,
	component  TEXT NOT NULL,
	branch     TEXT NOT NULL,
	class      TEXT NOT NULL,
	state      TEXT NOT NULL,
	event_id   INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (email, component, branch, class)
);

-- Every e-mail to deliver, fully rendered. message_id is stable so that a
-- resend after a crash carries the same identity.
CREATE TABLE email_outbox (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id      TEXT NOT NULL UNIQUE,
	event_id        INTEGER NOT NULL,
	recipient       TEXT NOT NULL,
	subject         TEXT NOT NULL,
	body            BLOB NOT NULL,            -- the whole RFC 5322 message
	state           TEXT NOT NULL,            -- queued | sending | sent | failed
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	lease_until     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	sent_at         INTEGER NOT NULL DEFAULT 0,
	UNIQUE (event_id, recipient)
);
CREATE INDEX email_outbox_due ON email_outbox(state, next_attempt_at);

-- Secrets the notifier generates itself (the unsubscribe-link key when no file is configured).
CREATE TABLE notify_keys (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

-- The one comment per pull request, and the latest report of each stage shown in it.
CREATE TABLE pr_comments (
	repo       TEXT NOT NULL,  -- owner/name
	pr         INTEGER NOT NULL,
	marker     TEXT NOT NULL,
	comment_id INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (repo, pr, marker)
);

CREATE TABLE pr_stages (
	repo       TEXT NOT NULL,
	pr         INTEGER NOT NULL,
	stage      TEXT NOT NULL,
	sha        TEXT NOT NULL,
	state      TEXT NOT NULL,     -- pending | success | failure | error
	verdict    TEXT NOT NULL DEFAULT '',
	summary    TEXT NOT NULL DEFAULT '',
	run_id     INTEGER NOT NULL DEFAULT 0,
	run_url    TEXT NOT NULL DEFAULT '',
	jobs       TEXT NOT NULL DEFAULT '[]', -- JSON [{"job","state","duration_ms","log_url","reason"}]
	event_id   INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (repo, pr, stage)
);
