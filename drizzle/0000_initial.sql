CREATE TABLE `check_results` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`device` text NOT NULL,
	`at` integer NOT NULL,
	`ok` integer NOT NULL,
	`reason` text NOT NULL,
	`detail` text,
	`duration_ms` integer NOT NULL,
	`trigger` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `check_results_device_id` ON `check_results` (`device`,`id`);--> statement-breakpoint
CREATE TABLE `device_grants` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`worker_id` text NOT NULL,
	`device` text NOT NULL,
	`path` text NOT NULL,
	`orig_uid` integer NOT NULL,
	`orig_gid` integer NOT NULL,
	`orig_mode` integer NOT NULL,
	`granted_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`restored_at` integer,
	FOREIGN KEY (`worker_id`) REFERENCES `workers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `device_grants_worker` ON `device_grants` (`worker_id`);--> statement-breakpoint
CREATE TABLE `device_health` (
	`device` text PRIMARY KEY NOT NULL,
	`state` text DEFAULT 'unknown' NOT NULL,
	`consecutive_failures` integer DEFAULT 0 NOT NULL,
	`consecutive_successes` integer DEFAULT 0 NOT NULL,
	`total_checks` integer DEFAULT 0 NOT NULL,
	`total_failures` integer DEFAULT 0 NOT NULL,
	`last_ok` integer,
	`last_reason` text,
	`last_detail` text,
	`last_duration_ms` integer,
	`last_checked_at` integer,
	`state_changed_at` integer
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`type` text NOT NULL,
	`slot` text,
	`device` text,
	`job_id` text,
	`worker_id` text,
	`actor` text,
	`message` text NOT NULL,
	`data` text
);
--> statement-breakpoint
CREATE INDEX `events_slot_id` ON `events` (`slot`,`id`);--> statement-breakpoint
CREATE INDEX `events_at` ON `events` (`at`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`target` text NOT NULL,
	`argv` text,
	`script` text,
	`env` text DEFAULT '{}' NOT NULL,
	`timeout_ms` integer NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`state` text DEFAULT 'queued' NOT NULL,
	`slot` text,
	`worker_id` text,
	`submitted_by` text,
	`submitted_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`started_at` integer,
	`ended_at` integer,
	`exit_code` integer,
	`end_reason` text,
	`waiting` text
);
--> statement-breakpoint
CREATE INDEX `jobs_queue` ON `jobs` (`state`,`target`,`priority`,`submitted_at`);--> statement-breakpoint
CREATE TABLE `slots` (
	`name` text PRIMARY KEY NOT NULL,
	`usage` text DEFAULT 'idle' NOT NULL,
	`usage_changed_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`lease_job_id` text,
	`lease_worker_id` text,
	`hold_reason` text,
	`hold_source` text,
	`hold_by` text,
	`hold_at` integer,
	`hold_job_id` text,
	`hold_worker_id` text
);
--> statement-breakpoint
CREATE TABLE `workers` (
	`id` text PRIMARY KEY NOT NULL,
	`job_id` text NOT NULL,
	`slot` text NOT NULL,
	`username` text NOT NULL,
	`uid` integer NOT NULL,
	`gid` integer NOT NULL,
	`token_hash` text NOT NULL,
	`state` text DEFAULT 'creating' NOT NULL,
	`root_dir` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`destroyed_at` integer,
	`cleanup_error` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `workers_state` ON `workers` (`state`);