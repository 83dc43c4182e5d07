ALTER TABLE `cohorts` ADD `active_since` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `lease_until` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `replay_attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `messages_settled` ON `messages` (`rollout_id`,`settled_at`) WHERE status IN ('processed', 'failed');--> statement-breakpoint
ALTER TABLE `rollouts` ADD `measured_since` integer;