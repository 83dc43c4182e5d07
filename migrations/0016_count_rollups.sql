CREATE TABLE `count_minutes` (
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
CREATE TABLE `ledger_tallies` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`span` integer NOT NULL,
	`bucket` integer NOT NULL,
	`status` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `span`, `bucket`, `status`)
);
--> statement-breakpoint
CREATE TABLE `ledger_totals` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`status` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `status`)
);
