-- Hydra's evidence per job of a candidate at a stage: build id, status, store
-- paths and build products with their sha256 (JSON {"component:job": {...}}).
ALTER TABLE hydra_evals ADD COLUMN jobs TEXT NOT NULL DEFAULT '{}';
