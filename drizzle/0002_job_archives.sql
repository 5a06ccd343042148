ALTER TABLE `jobs` ADD `input` text DEFAULT 'none' NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `outputs_bytes` integer;