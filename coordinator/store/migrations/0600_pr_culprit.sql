-- The culprit bisection named for a stage of a pull request, shown in its comment.
ALTER TABLE pr_stages ADD COLUMN culprit TEXT NOT NULL DEFAULT '';
