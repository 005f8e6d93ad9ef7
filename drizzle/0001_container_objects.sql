CREATE TABLE `container_objects` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`workspace_id` text NOT NULL,
	`metadata` text NOT NULL,
	`arguments` text NOT NULL,
	`time_created` text NOT NULL,
	`time_updated` text NOT NULL
);
