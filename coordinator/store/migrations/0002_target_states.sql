-- The last known state of each target at each stage, so that notifications are
-- sent on changes (green -> red, red -> green) and not on every red run.
CREATE TABLE target_states (
	component  TEXT NOT NULL,
	branch     TEXT NOT NULL,
	stage      TEXT NOT NULL,
	state      TEXT NOT NULL,           -- green | red
	verdict    TEXT NOT NULL DEFAULT '',
	run_id     INTEGER NOT NULL,
	changed_at INTEGER NOT NULL,
	PRIMARY KEY (component, branch, stage)
);
