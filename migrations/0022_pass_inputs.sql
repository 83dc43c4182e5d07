-- A pass reads what moved, not everything it watches: the rollouts revision (one row, moved by every write
-- to a rollout) and latency rows counted among a rollout's measure inputs.
CREATE TABLE `rollouts_revision` (
	`id` integer PRIMARY KEY NOT NULL,
	`revision` integer NOT NULL
);
--> statement-breakpoint
INSERT INTO `rollouts_revision` (`id`, `revision`) VALUES (1, 0);
--> statement-breakpoint
-- Every write to a rollout row moves the revision, inside the writer's transaction: a controller pass that
-- finds it where its last read left it knows no rollout changed (server/rollouts/service.ts `controlled`).
CREATE TRIGGER rollouts_revision_insert AFTER INSERT ON rollouts BEGIN
  UPDATE rollouts_revision SET revision = revision + 1 WHERE id = 1;
END
--> statement-breakpoint
CREATE TRIGGER rollouts_revision_update AFTER UPDATE ON rollouts BEGIN
  UPDATE rollouts_revision SET revision = revision + 1 WHERE id = 1;
END
--> statement-breakpoint
CREATE TRIGGER rollouts_revision_delete AFTER DELETE ON rollouts BEGIN
  UPDATE rollouts_revision SET revision = revision + 1 WHERE id = 1;
END
--> statement-breakpoint
-- Latency rows count as measure inputs too (0020's triggers count the rest): a pass re-reads a rollout's
-- timings only when they moved (server/health/measure-memo.ts).
CREATE TRIGGER measure_inputs_latency_counts_insert AFTER INSERT ON latency_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_latency_counts_update AFTER UPDATE ON latency_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (NEW.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
--> statement-breakpoint
CREATE TRIGGER measure_inputs_latency_counts_delete AFTER DELETE ON latency_counts BEGIN
  INSERT INTO measure_inputs (rollout_id, changes) VALUES (OLD.rollout_id, 1) ON CONFLICT (rollout_id) DO UPDATE SET changes = changes + 1;
END
