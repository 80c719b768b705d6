-- Bench results (the tables of benchkit/results/schema.sql, kept in step) and the
-- bench job queue of coordinator/benchqueue.
CREATE TABLE IF NOT EXISTS bench_runs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	key        TEXT NOT NULL UNIQUE,    -- idempotency key: a result posted twice counts once
	candidate  TEXT NOT NULL,
	component  TEXT NOT NULL,
	bench      TEXT NOT NULL,
	host_class TEXT NOT NULL,
	host       TEXT NOT NULL DEFAULT '{}', -- JSON measure.Host
	revisions  TEXT NOT NULL DEFAULT '{}', -- JSON {"component": "sha"}
	kind       TEXT NOT NULL DEFAULT 'run', -- run | confirm | bisect
	created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS bench_runs_key ON bench_runs(component, bench, host_class, candidate);

CREATE TABLE IF NOT EXISTS bench_samples (
	run_id    INTEGER NOT NULL REFERENCES bench_runs(id),
	metric    TEXT NOT NULL,
	iteration INTEGER NOT NULL,
	value     REAL NOT NULL,
	PRIMARY KEY (run_id, metric, iteration)
);

-- Released candidates: the baseline of a metric is the newest released
-- candidate with samples on the same host class.
CREATE TABLE IF NOT EXISTS bench_releases (
	candidate   TEXT PRIMARY KEY,
	released_at INTEGER NOT NULL
);

-- Accepted regressions, carried into the release manifest. bench '' covers
-- the metric in every bench of the candidate.
CREATE TABLE IF NOT EXISTS bench_acks (
	candidate  TEXT NOT NULL,
	bench      TEXT NOT NULL DEFAULT '',
	metric     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	by         TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	PRIMARY KEY (candidate, bench, metric)
);

-- Bench jobs leased to benchkit agents. round 0 is a candidate's first run of a
-- bench entry, rounds 1.. its confirmation runs.
CREATE TABLE bench_jobs (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	candidate     TEXT NOT NULL,
	component     TEXT NOT NULL,
	bench         TEXT NOT NULL,
	round         INTEGER NOT NULL DEFAULT 0,
	spec          TEXT NOT NULL,              -- JSON config.Bench
	sources       TEXT NOT NULL,              -- JSON {"component": {"repo","rev"}}
	requires      TEXT NOT NULL DEFAULT '[]', -- JSON worker features
	state         TEXT NOT NULL,              -- queued | leased | done | failed
	attempt       INTEGER NOT NULL DEFAULT 0,
	lease_id      TEXT NOT NULL DEFAULT '',
	agent         TEXT NOT NULL DEFAULT '',
	lease_expires INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	finished_at   INTEGER NOT NULL DEFAULT 0,
	UNIQUE (candidate, component, bench, round)
);
CREATE INDEX bench_jobs_state ON bench_jobs(state, id);

-- Final bench reports of a candidate, referenced from the release manifest.
CREATE TABLE bench_reports (
	id         TEXT PRIMARY KEY,
	candidate  TEXT NOT NULL,
	state      TEXT NOT NULL,
	json       TEXT NOT NULL,
	markdown   TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX bench_reports_candidate ON bench_reports(candidate);
