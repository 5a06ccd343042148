ALTER TABLE `jobs` ADD `requested_slot` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `allow_held_by` text;