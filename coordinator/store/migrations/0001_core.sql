-- Core pipeline state. Times are unix milliseconds.
CREATE TABLE targets (
	component  TEXT NOT NULL,
	branch     TEXT NOT NULL,
	head       TEXT NOT NULL DEFAULT '',
	updated_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (component, branch)
);

-- A candidate is an immutable set of pinned revisions, identified by their hash.
CREATE TABLE candidates (
	id         TEXT PRIMARY KEY,
	revisions  TEXT NOT NULL,            -- JSON {"component": {"repo","branch","rev"}}
	origin     TEXT NOT NULL DEFAULT '', -- what made it: head, pr, bisect, manual
	pr         INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
);

CREATE TABLE runs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	candidate   TEXT NOT NULL REFERENCES candidates(id),
	stage       TEXT NOT NULL,
	kind        TEXT NOT NULL DEFAULT 'stage', -- stage | schedule | bisect | manual | rebuild
	jobs        TEXT NOT NULL DEFAULT '[]',    -- JSON list of job IDs this run covers
	state       TEXT NOT NULL,                 -- queued | running | done | cancelled
	verdict     TEXT NOT NULL DEFAULT '',      -- green | upstream-broken | incompatible | upstream-not-accepted | infra-error | failed | cancelled
	detail      TEXT NOT NULL DEFAULT '{}',    -- JSON: reason, range, culprit, ...
	engine      TEXT NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	started_at  INTEGER NOT NULL DEFAULT 0,
	finished_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_candidate ON runs(candidate, stage);
CREATE INDEX runs_state ON runs(state);

CREATE TABLE job_results (
	run_id      INTEGER NOT NULL REFERENCES runs(id),
	job         TEXT NOT NULL,                 -- component:job
	state       TEXT NOT NULL,                 -- pending | running | success | failure | skipped | waiting | timeout | error | cancelled
	exit_code   INTEGER NOT NULL DEFAULT 0,
	reason      TEXT NOT NULL DEFAULT '',
	log         TEXT NOT NULL DEFAULT '',      -- artifact key of the log
	attempt     INTEGER NOT NULL DEFAULT 1,
	started_at  INTEGER NOT NULL DEFAULT 0,
	finished_at INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, job)
);

-- Promotion: a candidate passed a stage's gate. Never twice (primary key), never backwards.
CREATE TABLE promotions (
	candidate  TEXT NOT NULL REFERENCES candidates(id),
	stage      TEXT NOT NULL,
	run_id     INTEGER NOT NULL,
	evidence   TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL,
	PRIMARY KEY (candidate, stage)
);

-- Compatibility record of an (upstream rev, downstream rev) pair: the base of
-- "commit range since the last compatible pair".
CREATE TABLE compat (
	upstream       TEXT NOT NULL,
	upstream_rev   TEXT NOT NULL,
	downstream     TEXT NOT NULL,
	downstream_rev TEXT NOT NULL,
	verdict        TEXT NOT NULL,
	run_id         INTEGER NOT NULL,
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (upstream, upstream_rev, downstream, downstream_rev)
);

-- Events are the outbox of every notification: written in the same transaction
-- as the state change that caused them, consumed by notifiers. key makes them idempotent.
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	key        TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,           -- failure | recovery | incompatible | promotion | bench-regression | run-started | run-finished
	component  TEXT NOT NULL DEFAULT '',
	branch     TEXT NOT NULL DEFAULT '',
	candidate  TEXT NOT NULL DEFAULT '',
	run_id     INTEGER NOT NULL DEFAULT 0,
	payload    TEXT NOT NULL DEFAULT '{}',
	created_at INTEGER NOT NULL
);

-- Consumers remember how far they have read the event log.
CREATE TABLE cursors (
	consumer TEXT PRIMARY KEY,
	event_id INTEGER NOT NULL
);

-- Idempotency of external side effects (tags, statuses, comments, e-mails).
CREATE TABLE side_effects (
	key        TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	state      TEXT NOT NULL,          -- started | done
	result     TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	done_at    INTEGER NOT NULL DEFAULT 0
);

-- Per-job schedule bookkeeping: when a cron job last fired, which continuous round runs.
CREATE TABLE schedules (
	job        TEXT NOT NULL,
	branch     TEXT NOT NULL,
	last_fired INTEGER NOT NULL DEFAULT 0,
	run_id     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (job, branch)
);
