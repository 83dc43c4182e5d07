-- Rollups kept by triggers (server/health/rollups.ts says why): every writer of cohort_counts and of the
-- ledger (ingest, retention's compaction and deletes, lost marking, replay) keeps them equal to the rows they sum.
-- Backfilled from what is there, in the migration's transaction. In the triggers a status is tested with OR, never
-- IN (...): an IN list builds a small table at every invocation, that is on every ledger row ingest writes.
INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
  SELECT rollout_id, cohort, path, bucket - bucket % 60, sum(received), sum(processed), sum(failed), sum(compared), sum(mismatched), sum(skipped), sum(dropped) FROM cohort_counts GROUP BY rollout_id, cohort, path, bucket - bucket % 60
--> statement-breakpoint
INSERT INTO ledger_tallies (rollout_id, cohort, span, bucket, status, n)
  SELECT rollout_id, cohort, spans.span, CAST(m.received_at / 1000 AS INTEGER) - CAST(m.received_at / 1000 AS INTEGER) % spans.span, status, count(*) FROM messages AS m, (SELECT 1 AS span UNION ALL SELECT 60) AS spans
  WHERE status IN ('lost', 'late', 'replayed') AND received_at IS NOT NULL GROUP BY 1, 2, 3, 4, 5
--> statement-breakpoint
INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT rollout_id, cohort, status, count(*) FROM messages WHERE status IN ('lost', 'late', 'replayed') GROUP BY rollout_id, cohort, status
--> statement-breakpoint
CREATE TRIGGER count_minutes_insert AFTER INSERT ON cohort_counts BEGIN
  INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
    VALUES (NEW.rollout_id, NEW.cohort, NEW.path, NEW.bucket - NEW.bucket % 60, NEW.received, NEW.processed, NEW.failed, NEW.compared, NEW.mismatched, NEW.skipped, NEW.dropped)
    ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched, skipped = skipped + excluded.skipped, dropped = dropped + excluded.dropped;
END
--> statement-breakpoint
-- Ingest's upserts add to a second's row: the minute takes the difference, one statement.
CREATE TRIGGER count_minutes_update AFTER UPDATE ON cohort_counts WHEN NEW.rollout_id = OLD.rollout_id AND NEW.cohort = OLD.cohort AND NEW.path = OLD.path AND NEW.bucket - NEW.bucket % 60 = OLD.bucket - OLD.bucket % 60 BEGIN
  INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
    VALUES (NEW.rollout_id, NEW.cohort, NEW.path, NEW.bucket - NEW.bucket % 60, NEW.received - OLD.received, NEW.processed - OLD.processed, NEW.failed - OLD.failed, NEW.compared - OLD.compared, NEW.mismatched - OLD.mismatched, NEW.skipped - OLD.skipped, NEW.dropped - OLD.dropped)
    ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched, skipped = skipped + excluded.skipped, dropped = dropped + excluded.dropped;
END
--> statement-breakpoint
-- No writer moves a row to another minute today; if one did, the minutes would still add up.
CREATE TRIGGER count_minutes_move AFTER UPDATE ON cohort_counts WHEN NOT (NEW.rollout_id = OLD.rollout_id AND NEW.cohort = OLD.cohort AND NEW.path = OLD.path AND NEW.bucket - NEW.bucket % 60 = OLD.bucket - OLD.bucket % 60) BEGIN
  INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
    VALUES (OLD.rollout_id, OLD.cohort, OLD.path, OLD.bucket - OLD.bucket % 60, -OLD.received, -OLD.processed, -OLD.failed, -OLD.compared, -OLD.mismatched, -OLD.skipped, -OLD.dropped)
    ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched, skipped = skipped + excluded.skipped, dropped = dropped + excluded.dropped;
  DELETE FROM count_minutes WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND bucket = OLD.bucket - OLD.bucket % 60 AND received = 0 AND processed = 0 AND failed = 0 AND compared = 0 AND mismatched = 0 AND skipped = 0 AND dropped = 0;
  INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
    VALUES (NEW.rollout_id, NEW.cohort, NEW.path, NEW.bucket - NEW.bucket % 60, NEW.received, NEW.processed, NEW.failed, NEW.compared, NEW.mismatched, NEW.skipped, NEW.dropped)
    ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched, skipped = skipped + excluded.skipped, dropped = dropped + excluded.dropped;
END
--> statement-breakpoint
-- Compaction inserts a minute's row and deletes its seconds (net zero here); retention's deletes empty a minute,
-- and a minute that sums to nothing is removed, so this table is bounded by cohort_counts.
CREATE TRIGGER count_minutes_delete AFTER DELETE ON cohort_counts BEGIN
  INSERT INTO count_minutes (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped)
    VALUES (OLD.rollout_id, OLD.cohort, OLD.path, OLD.bucket - OLD.bucket % 60, -OLD.received, -OLD.processed, -OLD.failed, -OLD.compared, -OLD.mismatched, -OLD.skipped, -OLD.dropped)
    ON CONFLICT (rollout_id, cohort, path, bucket) DO UPDATE SET received = received + excluded.received, processed = processed + excluded.processed, failed = failed + excluded.failed, compared = compared + excluded.compared, mismatched = mismatched + excluded.mismatched, skipped = skipped + excluded.skipped, dropped = dropped + excluded.dropped;
  DELETE FROM count_minutes WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND bucket = OLD.bucket - OLD.bucket % 60 AND received = 0 AND processed = 0 AND failed = 0 AND compared = 0 AND mismatched = 0 AND skipped = 0 AND dropped = 0;
END
--> statement-breakpoint
CREATE TRIGGER ledger_tallies_insert AFTER INSERT ON messages WHEN (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, span, bucket, status, n)
    SELECT NEW.rollout_id, NEW.cohort, spans.span, CAST(NEW.received_at / 1000 AS INTEGER) - CAST(NEW.received_at / 1000 AS INTEGER) % spans.span, NEW.status, 1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') AND NEW.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT NEW.rollout_id, NEW.cohort, NEW.status, 1 WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
END
--> statement-breakpoint
-- Only a change of what a tally is keyed by fires it (lost marking, late settlement, replay), not ingest's open → processed.
CREATE TRIGGER ledger_tallies_update AFTER UPDATE OF status, received_at, cohort, rollout_id ON messages
WHEN ((OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') OR (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed'))
  AND (OLD.status IS NOT NEW.status OR OLD.received_at IS NOT NEW.received_at OR OLD.cohort IS NOT NEW.cohort OR OLD.rollout_id IS NOT NEW.rollout_id) BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, span, bucket, status, n)
    SELECT OLD.rollout_id, OLD.cohort, spans.span, CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % spans.span, OLD.status, -1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') AND OLD.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT OLD.rollout_id, OLD.cohort, OLD.status, -1 WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
  DELETE FROM ledger_tallies WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status
    AND ((span = 1 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER)) OR (span = 60 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % 60)) AND n = 0;
  DELETE FROM ledger_totals WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status AND n = 0;
  INSERT INTO ledger_tallies (rollout_id, cohort, span, bucket, status, n)
    SELECT NEW.rollout_id, NEW.cohort, spans.span, CAST(NEW.received_at / 1000 AS INTEGER) - CAST(NEW.received_at / 1000 AS INTEGER) % spans.span, NEW.status, 1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed') AND NEW.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT NEW.rollout_id, NEW.cohort, NEW.status, 1 WHERE (NEW.status = 'lost' OR NEW.status = 'late' OR NEW.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
END
--> statement-breakpoint
CREATE TRIGGER ledger_tallies_delete AFTER DELETE ON messages WHEN (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') BEGIN
  INSERT INTO ledger_tallies (rollout_id, cohort, span, bucket, status, n)
    SELECT OLD.rollout_id, OLD.cohort, spans.span, CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % spans.span, OLD.status, -1 FROM (SELECT 1 AS span UNION ALL SELECT 60) AS spans
    WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed') AND OLD.received_at IS NOT NULL
    ON CONFLICT (rollout_id, cohort, span, bucket, status) DO UPDATE SET n = n + excluded.n;
  INSERT INTO ledger_totals (rollout_id, cohort, status, n) SELECT OLD.rollout_id, OLD.cohort, OLD.status, -1 WHERE (OLD.status = 'lost' OR OLD.status = 'late' OR OLD.status = 'replayed')
    ON CONFLICT (rollout_id, cohort, status) DO UPDATE SET n = n + excluded.n;
  DELETE FROM ledger_tallies WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status
    AND ((span = 1 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER)) OR (span = 60 AND bucket = CAST(OLD.received_at / 1000 AS INTEGER) - CAST(OLD.received_at / 1000 AS INTEGER) % 60)) AND n = 0;
  DELETE FROM ledger_totals WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND status = OLD.status AND n = 0;
END
