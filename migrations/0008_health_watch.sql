ALTER TABLE `rollouts` ADD `completed_at` integer;--> statement-breakpoint
ALTER TABLE `rollouts` ADD `watch_breached_at` integer;