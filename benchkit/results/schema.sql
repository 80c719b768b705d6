-- benchkit results. The same tables live in the coordinator's database
-- (coordinator/store/migrations/0200_bench.sql); keep the two in step.
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
