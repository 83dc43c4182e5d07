-- Kept window sums (server/health/window-sums.ts says why and how a pass uses them): the controller registers
-- each cohort window it watches here, and these triggers add every change to cohort_counts to the windows it
-- falls in, by every writer (ingest, retention's compaction and deletes), inside the writer's transaction.
-- A change to a cell nobody watches costs one primary-key miss.
CREATE TABLE `count_windows` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`lo` integer NOT NULL,
	`de` integer NOT NULL,
	`due` integer NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`processed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`compared` integer DEFAULT 0 NOT NULL,
	`mismatched` integer DEFAULT 0 NOT NULL,
	`skipped` integer DEFAULT 0 NOT NULL,
	`dropped` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `path`)
) WITHOUT ROWID;

--> statement-breakpoint
CREATE TRIGGER count_windows_insert AFTER INSERT ON cohort_counts BEGIN
  UPDATE count_windows SET received = received + NEW.received, processed = processed + NEW.processed, failed = failed + NEW.failed, compared = compared + NEW.compared, mismatched = mismatched + NEW.mismatched, skipped = skipped + NEW.skipped, dropped = dropped + NEW.dropped, due = due + CASE WHEN NEW.bucket < de THEN NEW.received ELSE 0 END
    WHERE rollout_id = NEW.rollout_id AND cohort = NEW.cohort AND path = NEW.path AND NEW.bucket >= lo;
END
--> statement-breakpoint
-- Ingest's upserts add to a second's row: the window takes the difference, one statement.
CREATE TRIGGER count_windows_update AFTER UPDATE ON cohort_counts WHEN NEW.rollout_id = OLD.rollout_id AND NEW.cohort = OLD.cohort AND NEW.path = OLD.path AND NEW.bucket = OLD.bucket BEGIN
  UPDATE count_windows SET received = received + NEW.received - OLD.received, processed = processed + NEW.processed - OLD.processed, failed = failed + NEW.failed - OLD.failed, compared = compared + NEW.compared - OLD.compared, mismatched = mismatched + NEW.mismatched - OLD.mismatched, skipped = skipped + NEW.skipped - OLD.skipped, dropped = dropped + NEW.dropped - OLD.dropped, due = due + CASE WHEN NEW.bucket < de THEN NEW.received - OLD.received ELSE 0 END
    WHERE rollout_id = NEW.rollout_id AND cohort = NEW.cohort AND path = NEW.path AND NEW.bucket >= lo;
END
--> statement-breakpoint
-- No writer moves a row to another cell or second today; if one did, the windows would still add up.
CREATE TRIGGER count_windows_move AFTER UPDATE ON cohort_counts WHEN NOT (NEW.rollout_id = OLD.rollout_id AND NEW.cohort = OLD.cohort AND NEW.path = OLD.path AND NEW.bucket = OLD.bucket) BEGIN
  UPDATE count_windows SET received = received - OLD.received, processed = processed - OLD.processed, failed = failed - OLD.failed, compared = compared - OLD.compared, mismatched = mismatched - OLD.mismatched, skipped = skipped - OLD.skipped, dropped = dropped - OLD.dropped, due = due + CASE WHEN OLD.bucket < de THEN -OLD.received ELSE 0 END
    WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND OLD.bucket >= lo;
  UPDATE count_windows SET received = received + NEW.received, processed = processed + NEW.processed, failed = failed + NEW.failed, compared = compared + NEW.compared, mismatched = mismatched + NEW.mismatched, skipped = skipped + NEW.skipped, dropped = dropped + NEW.dropped, due = due + CASE WHEN NEW.bucket < de THEN NEW.received ELSE 0 END
    WHERE rollout_id = NEW.rollout_id AND cohort = NEW.cohort AND path = NEW.path AND NEW.bucket >= lo;
END
--> statement-breakpoint
CREATE TRIGGER count_windows_delete AFTER DELETE ON cohort_counts BEGIN
  UPDATE count_windows SET received = received - OLD.received, processed = processed - OLD.processed, failed = failed - OLD.failed, compared = compared - OLD.compared, mismatched = mismatched - OLD.mismatched, skipped = skipped - OLD.skipped, dropped = dropped - OLD.dropped, due = due + CASE WHEN OLD.bucket < de THEN -OLD.received ELSE 0 END
    WHERE rollout_id = OLD.rollout_id AND cohort = OLD.cohort AND path = OLD.path AND OLD.bucket >= lo;
END
