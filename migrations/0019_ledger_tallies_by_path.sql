-- Ledger tallies keyed by path as well (server/health/rollups.ts): a cohort is judged on one path, and a band
-- reverted by its guard sends its partners down the old path, whose losses are not the new path's. The tallies
-- are rebuilt from the ledger, and their triggers recreated with the path, in the migration's transaction.
DROP TRIGGER ledger_tallies_insert;
--> statement-breakpoint
DROP TRIGGER ledger_tallies_update;
--> statement-breakpoint
DROP TRIGGER ledger_tallies_delete;
--> statement-breakpoint
DROP TABLE `ledger_tallies`;
--> statement-breakpoint
CREATE TABLE `ledger_tallies` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`span` integer NOT NULL,
	`bucket` integer NOT NULL,
	`status` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `path`, `span`, `bucket`, `status`)
);
--> statement-breakpoint
INSERT INTO ledger_tallies (rollout_id, cohort, path, span, bucket, status, n)
  SELECT rollout_id, cohort, path, spans.span, CAST(m.received_at / 1000 AS INTEGER) - CAST(m.received_at / 1000 AS INTEGER) % spans.span, status, count(*) FROM messages AS m, (SELECT 1 AS span UNION ALL SELECT 60) AS spans
  WHERE status IN ('lost', 'late', 'replayed') AND received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6
--> statement-breakpoint
DROP INDEX `messages_by_status_cohort`;
--> statement-breakpoint
CREATE INDEX `messages_by_status_cohort` ON `messages` (`rollout_id`,`status`,`cohort`,`received_at`,`path`);
--> statement-breakpoint
CREATE TRIGGER ledger_tallies_insert AFTER INSERT ON messages WHEN (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, path, span, bucket, status, n)
    SELECT NEW.rollout_id, NEW.cohort, NEW.path, spans.span, CAST(NEW.received_at / 1000 AS INTEGER) - CAST(NEW.received_at / 1000 AS INTEGER) % spans.span, NEW.status, 1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') AND NEW.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, path, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT NEW.rollout_id, NEW.cohort, NEW.status, 1 WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
END
--> statement-breakpoint
-- Only a change of what a tally is keyed by fires it (lost marking, late settlement, replay), not ingest's open → processed.
CREATE TRIGGER ledger_tallies_update AFTER UPDATE OF status, received_at, cohort, path, rollout_id ON messages
WHEN ((OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') OR (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed'))
  AND (OLD.status IS NOT NEW.status OR OLD.received_at IS NOT NEW.received_at OR OLD.cohort IS NOT NEW.cohort OR OLD.path IS NOT NEW.path OR OLD.rollout_id IS NOT NEW.rollout_id) BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, path, span, bucket, status, n)
    SELECT OLD.rollout_id, OLD.cohort, OLD.path, spans.span, CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % spans.span, OLD.status, -1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') AND OLD.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, path, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT OLD.rollout_id, OLD.cohort, OLD.status, -1 WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
  DELETE FROM ledger_tallies WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND status = OLD.status
    AND ((span = 1 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER)) OR (span = 60 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % 60)) AND n = 0;
  DELETE FROM ledger_totals WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status AND n = 0;
  INSERT INTO ledger_tallies (rollout_id, cohort, path, span, bucket, status, n)
    SELECT NEW.rollout_id, NEW.cohort, NEW.path, spans.span, CAST(NEW.received_at / 1000 AS INTEGER) - CAST(NEW.received_at / 1000 AS INTEGER) % spans.span, NEW.status, 1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') AND NEW.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, path, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT NEW.rollout_id, NEW.cohort, NEW.status, 1 WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
END
--> statement-breakpoint
CREATE TRIGGER ledger_tallies_delete AFTER DELETE ON messages WHEN (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, path, span, bucket, status, n)
    SELECT OLD.rollout_id, OLD.cohort, OLD.path, spans.span, CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % spans.span, OLD.status, -1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') AND OLD.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, path, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT OLD.rollout_id, OLD.cohort, OLD.status, -1 WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
  DELETE FROM ledger_tallies WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND status = OLD.status
    AND ((span = 1 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER)) OR (span = 60 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % 60)) AND n = 0;
  DELETE FROM ledger_totals WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status AND n = 0;
END
