CREATE TABLE `storage_probe` (
	`id` integer PRIMARY KEY NOT NULL,
	`probed_at` integer NOT NULL
);
