CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`prefix` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	`last_used_at` integer,
	`revoked_at` integer,
	`revoked_by` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_unique` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`rollout_key` text,
	`subject` text,
	`before` text,
	`after` text,
	`reason` text
);
--> statement-breakpoint
CREATE INDEX `audit_rollout` ON `audit_log` (`rollout_key`,`id`);--> statement-breakpoint
CREATE TABLE `cohorts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`rollout_id` integer NOT NULL,
	`name` text NOT NULL,
	`step` integer NOT NULL,
	`from_bp` integer NOT NULL,
	`to_bp` integer NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`reverted_at` integer,
	`revert_kind` text,
	`reverted_by` text,
	`revert_reason` text,
	FOREIGN KEY (`rollout_id`) REFERENCES `rollouts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `cohorts_rollout_name` ON `cohorts` (`rollout_id`,`name`);--> statement-breakpoint
CREATE TABLE `pins` (
	`rollout_id` integer NOT NULL,
	`partner_id` text NOT NULL,
	`path` text NOT NULL,
	`created_at` integer NOT NULL,
	`created_by` text NOT NULL,
	PRIMARY KEY(`rollout_id`, `partner_id`),
	FOREIGN KEY (`rollout_id`) REFERENCES `rollouts`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `rollouts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`key` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`salt` text NOT NULL,
	`state` text NOT NULL,
	`plan` text NOT NULL,
	`guards` text NOT NULL,
	`on_breach` text NOT NULL,
	`auto_advance` integer NOT NULL,
	`step` integer,
	`step_entered_at` integer,
	`version` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rollouts_key_unique` ON `rollouts` (`key`);