CREATE INDEX `audit_at` ON `audit_log` (`at`);--> statement-breakpoint
CREATE INDEX `report_batches_received` ON `report_batches` (`received_at`);