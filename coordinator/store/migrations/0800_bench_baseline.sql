-- A bench job may measure a baseline side by side with its candidate: JSON
-- protocol.Baseline {candidate, sources}, '' for none.
ALTER TABLE bench_jobs ADD COLUMN baseline TEXT NOT NULL DEFAULT '';
-- A bench job with a bisection (JSON protocol.BisectSpec; round < 0) bisects a
-- confirmed regression; result holds its JSON protocol.BisectResult.
ALTER TABLE bench_jobs ADD COLUMN bisect TEXT NOT NULL DEFAULT '';
ALTER TABLE bench_jobs ADD COLUMN result TEXT NOT NULL DEFAULT '';
