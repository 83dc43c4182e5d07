-- What a rollout's health is measured from, counted as it changes (server/health/measure-memo.ts says why): one
-- upsert per row written, by every writer (ingest, retention, lost marking, late settlement, replay, noise
-- learning), inside its own transaction. The ledger is followed through ledger_totals, which its own triggers
-- change with every lost, late or replayed row. Latency rows are compared by value by the pass itself.
CREATE TABLE `measure_inputs` (
	`rollout_id` integer PRIMARY KEY NOT NULL,
	`changes` integer NOT NULL
);
--> statement-breakpoint
CREATE TRIGGER measure_inputs_cohort_counts_insert AFTER INSERT ON cohort_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_cohort_counts_update AFTER UPDATE ON cohort_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_cohort_counts_delete AFTER DELETE ON cohort_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_ledger_totals_insert AFTER INSERT ON ledger_totals BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_ledger_totals_update AFTER UPDATE ON ledger_totals BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_ledger_totals_delete AFTER DELETE ON ledger_totals BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_dropped_events_insert AFTER INSERT ON dropped_events BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_dropped_events_update AFTER UPDATE ON dropped_events BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_dropped_events_delete AFTER DELETE ON dropped_events BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_mismatch_field_sets_insert AFTER INSERT ON mismatch_field_sets BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_mismatch_field_sets_update AFTER UPDATE ON mismatch_field_sets BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_mismatch_field_sets_delete AFTER DELETE ON mismatch_field_sets BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_noise_runs_insert AFTER INSERT ON noise_runs BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_noise_runs_update AFTER UPDATE ON noise_runs BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_noise_runs_delete AFTER DELETE ON noise_runs BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_learned_noise_insert AFTER INSERT ON learned_noise BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_learned_noise_update AFTER UPDATE ON learned_noise BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_learned_noise_delete AFTER DELETE ON learned_noise BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
