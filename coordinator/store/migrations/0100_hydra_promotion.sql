-- Hydra engine bookkeeping: which lock commit holds a candidate at a stage and
-- which Hydra evaluation built it (the evidence gates and releases read).
CREATE TABLE hydra_evals (
	stage       TEXT NOT NULL,
	candidate   TEXT NOT NULL,
	jobset      TEXT NOT NULL,           -- project:jobset
	lock_commit TEXT NOT NULL DEFAULT '',
	eval_id     INTEGER NOT NULL DEFAULT 0,
	gate_build  INTEGER NOT NULL DEFAULT 0,
	builds      TEXT NOT NULL DEFAULT '{}', -- JSON {"component:job": build id}
	state       TEXT NOT NULL DEFAULT 'locked', -- locked | evaluated | eval-error | fetch-error | timeout
	message     TEXT NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (stage, candidate)
);

-- The candidate each stage currently holds. Moves only forward, in candidate
-- creation order.
CREATE TABLE stage_heads (
	stage      TEXT PRIMARY KEY,
	candidate  TEXT NOT NULL REFERENCES candidates(id),
	run_id     INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL
);

-- Releases cut by `coordinator promote --to release`.
CREATE TABLE releases (
	version    TEXT PRIMARY KEY,
	candidate  TEXT NOT NULL REFERENCES candidates(id),
	manifest   TEXT NOT NULL,            -- JSON manifest (schema 1)
	by_user    TEXT NOT NULL DEFAULT '',
	state      TEXT NOT NULL DEFAULT 'started', -- started | done
	created_at INTEGER NOT NULL,
	done_at    INTEGER NOT NULL DEFAULT 0
);
