CREATE TABLE `cohort_counts` (
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
	PRIMARY KEY(`rollout_id`, `bucket`, `cohort`, `path`)
);
--> statement-breakpoint
CREATE TABLE `latency_counts` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`role` text NOT NULL,
	`bucket` integer NOT NULL,
	`slot` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `bucket`, `cohort`, `path`, `role`, `slot`)
);
--> statement-breakpoint
CREATE TABLE `learned_noise` (
	`rollout_id` integer NOT NULL,
	`path` text NOT NULL,
	`first_seen_at` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `path`)
);
--> statement-breakpoint
CREATE TABLE `messages` (
	`rollout_id` integer NOT NULL,
	`message_id` text NOT NULL,
	`partner_id` text NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`status` text NOT NULL,
	`received_at` integer,
	`settled_at` integer,
	`error` text,
	PRIMARY KEY(`rollout_id`, `message_id`)
);
--> statement-breakpoint
CREATE INDEX `messages_open` ON `messages` (`rollout_id`,`received_at`) WHERE status = 'open';--> statement-breakpoint
CREATE INDEX `messages_by_status` ON `messages` (`rollout_id`,`status`,`received_at`);--> statement-breakpoint
CREATE TABLE `mismatch_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`minute` integer NOT NULL,
	`at` integer NOT NULL,
	`message_id` text NOT NULL,
	`partner_id` text NOT NULL,
	`authoritative` text NOT NULL,
	`kind` text NOT NULL,
	`diffs` text NOT NULL,
	`instance_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `mismatch_samples_by_minute` ON `mismatch_samples` (`rollout_id`,`cohort`,`minute`);--> statement-breakpoint
CREATE INDEX `mismatch_samples_recent` ON `mismatch_samples` (`rollout_id`,`id`);--> statement-breakpoint
CREATE TABLE `report_batches` (
	`batch_id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`received_at` integer NOT NULL
);
