-- A bench job may measure a baseline side by side with its candidate: JSON
-- protocol.Baseline {candidate, sources}, '' for none.
ALTER TABLE bench_jobs ADD COLUMN baseline TEXT NOT NULL DEFAULT '';
