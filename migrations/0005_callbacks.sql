CREATE TABLE `callback_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`delivery_id` text NOT NULL,
	`callback_id` text NOT NULL,
	`at` integer NOT NULL,
	`status` integer,
	`latency_ms` integer NOT NULL,
	`error` text,
	`response_excerpt` text,
	`address` text,
	`next_attempt_at` integer
);
--> statement-breakpoint
CREATE INDEX `callback_attempts_by_delivery` ON `callback_attempts` (`delivery_id`,`id`);--> statement-breakpoint
CREATE INDEX `callback_attempts_by_callback` ON `callback_attempts` (`callback_id`,`id`);--> statement-breakpoint
CREATE TABLE `callback_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`callback_id` text NOT NULL,
	`status` text NOT NULL,
	`mode` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`lease_owner` text,
	`lease_until` integer,
	`last_status` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `callback_deliveries_due` ON `callback_deliveries` (`next_attempt_at`) WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX `callback_deliveries_by_callback` ON `callback_deliveries` (`callback_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `callback_deliveries_by_message` ON `callback_deliveries` (`message_id`);--> statement-breakpoint
CREATE INDEX `callback_deliveries_failed` ON `callback_deliveries` (`callback_id`,`finished_at`) WHERE status = 'failed';--> statement-breakpoint
CREATE TABLE `callback_messages` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`rollout_key` text NOT NULL,
	`body` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `callback_messages_by_rollout` ON `callback_messages` (`rollout_key`,`created_at`);--> statement-breakpoint
CREATE TABLE `callbacks` (
	`id` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`rollout_key` text,
	`events` text,
	`description` text DEFAULT '' NOT NULL,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_secret_until` integer,
	`status` text NOT NULL,
	`status_reason` text,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `callbacks_by_status` ON `callbacks` (`status`,`rollout_key`);--> statement-breakpoint
CREATE TABLE `lost_announcements` (
	`rollout_id` integer PRIMARY KEY NOT NULL,
	`pending` integer DEFAULT 0 NOT NULL,
	`by_cohort` text NOT NULL,
	`sample` text NOT NULL,
	`since` integer,
	`last_announced_at` integer
);
