CREATE TABLE `deployments` (
	`name` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`files` text NOT NULL,
	`members` text NOT NULL,
	`source` text NOT NULL,
	`last_error` text,
	`time_created` text NOT NULL,
	`time_updated` text NOT NULL
);
