-- expect: drop-column
ALTER TABLE reporting.daily_stats DROP COLUMN obsolete_metric;
