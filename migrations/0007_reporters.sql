CREATE TABLE `reporters` (
	`rollout_id` integer NOT NULL,
	`instance_id` text NOT NULL,
	`watermark` integer NOT NULL,
	`last_seen` integer NOT NULL,
	`last_event_at` integer NOT NULL,
	`left_at` integer,
	`gone_at` integer,
	PRIMARY KEY(`rollout_id`, `instance_id`)
);
--> statement-breakpoint
CREATE INDEX `reporters_by_instance` ON `reporters` (`instance_id`);