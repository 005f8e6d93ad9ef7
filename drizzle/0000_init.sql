CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`key` text NOT NULL,
	`payload` text NOT NULL,
	`seq` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `store_counters` (
	`store` text PRIMARY KEY NOT NULL,
	`num_add` integer DEFAULT 0 NOT NULL,
	`num_del` integer DEFAULT 0 NOT NULL,
	`time_created` text NOT NULL,
	`time_updated` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workspaces` (
	`id` text PRIMARY KEY NOT NULL,
	`state` text NOT NULL,
	`reason` text,
	`log_tail` text,
	`metadata` text NOT NULL,
	`arguments` text,
	`time_created` text NOT NULL,
	`time_updated` text NOT NULL
);
