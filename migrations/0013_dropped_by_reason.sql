CREATE TABLE `dropped_events` (
	`rollout_id` integer NOT NULL,
	`cohort` text NOT NULL,
	`path` text NOT NULL,
	`reason` text NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `cohort`, `reason`, `path`, `bucket`)
);
