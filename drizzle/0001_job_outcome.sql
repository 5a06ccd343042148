ALTER TABLE `jobs` ADD `signal` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `ended_by` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `infrastructure` integer DEFAULT false NOT NULL;