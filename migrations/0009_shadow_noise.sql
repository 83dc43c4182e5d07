CREATE TABLE `mismatch_field_sets` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`bucket` integer NOT NULL,
	`fields` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `path`, `bucket`, `fields`)
);
--> statement-breakpoint
CREATE TABLE `noise_runs` (
	`rollout_id` integer PRIMARY KEY NOT NULL,
	`runs` integer DEFAULT 0 NOT NULL,
	`started_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `learned_noise` ADD `differing` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `learned_noise` ADD `learned_at` integer;--> statement-breakpoint
ALTER TABLE `learned_noise` ADD `learned_from` integer;--> statement-breakpoint
ALTER TABLE `rollouts` ADD `compare` text;