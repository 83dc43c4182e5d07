PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_cohort_counts` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`bucket` integer NOT NULL,
	`received` integer DEFAULT 0 NOT NULL,
	`processed` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`compared` integer DEFAULT 0 NOT NULL,
	`mismatched` integer DEFAULT 0 NOT NULL,
	`skipped` integer DEFAULT 0 NOT NULL,
	`dropped` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `path`, `bucket`)
);
--> statement-breakpoint
INSERT INTO `__new_cohort_counts`("rollout_id", "cohort", "path", "bucket", "received", "processed", "failed", "compared", "mismatched", "skipped", "dropped") SELECT "rollout_id", "cohort", "path", "bucket", "received", "processed", "failed", "compared", "mismatched", "skipped", "dropped" FROM `cohort_counts`;--> statement-breakpoint
DROP TABLE `cohort_counts`;--> statement-breakpoint
ALTER TABLE `__new_cohort_counts` RENAME TO `cohort_counts`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE TABLE `__new_latency_counts` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`role` text NOT NULL,
	`bucket` integer NOT NULL,
	`slot` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `path`, `role`, `bucket`, `slot`)
);
--> statement-breakpoint
INSERT INTO `__new_latency_counts`("rollout_id", "cohort", "path", "role", "bucket", "slot", "count") SELECT "rollout_id", "cohort", "path", "role", "bucket", "slot", "count" FROM `latency_counts`;--> statement-breakpoint
DROP TABLE `latency_counts`;--> statement-breakpoint
ALTER TABLE `__new_latency_counts` RENAME TO `latency_counts`;