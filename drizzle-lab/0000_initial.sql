CREATE TABLE "lab_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "lab_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"host" text NOT NULL,
	"local_id" integer,
	"at" bigint NOT NULL,
	"type" text NOT NULL,
	"slot" text,
	"device" text,
	"job_id" text,
	"worker_id" text,
	"actor" text,
	"message" text NOT NULL,
	"data" jsonb
);
--> statement-breakpoint
CREATE TABLE "lab_hosts" (
	"name" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"version" text NOT NULL,
	"instance" text NOT NULL,
	"started_at" bigint NOT NULL,
	"last_seen" bigint NOT NULL,
	"targets" jsonb NOT NULL,
	"max_timeout_ms" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lab_job_inputs" (
	"job_id" text PRIMARY KEY NOT NULL,
	"archive" "bytea" NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lab_jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text,
	"submitted_via" text NOT NULL,
	"target" text NOT NULL,
	"argv" jsonb,
	"script" text,
	"env" jsonb NOT NULL,
	"timeout_ms" bigint NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"state" text DEFAULT 'queued' NOT NULL,
	"slot" text,
	"worker_id" text,
	"submitted_by" text,
	"submitted_at" bigint NOT NULL,
	"started_at" bigint,
	"ended_at" bigint,
	"exit_code" integer,
	"signal" text,
	"end_reason" text,
	"ended_by" text,
	"infrastructure" boolean DEFAULT false NOT NULL,
	"input" text DEFAULT 'none' NOT NULL,
	"archives" jsonb,
	"outputs_bytes" bigint,
	"waiting" text,
	"requested_slot" text,
	"allow_held_by" text
);
--> statement-breakpoint
CREATE TABLE "lab_slots" (
	"name" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"target" text NOT NULL,
	"view" jsonb NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "lab_events_host_local" ON "lab_events" USING btree ("host","local_id");--> statement-breakpoint
CREATE INDEX "lab_events_at" ON "lab_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "lab_events_slot" ON "lab_events" USING btree ("slot","id");--> statement-breakpoint
CREATE INDEX "lab_jobs_queue" ON "lab_jobs" USING btree ("state","priority","submitted_at");--> statement-breakpoint
CREATE INDEX "lab_jobs_host" ON "lab_jobs" USING btree ("host","state");--> statement-breakpoint
CREATE INDEX "lab_slots_host" ON "lab_slots" USING btree ("host");