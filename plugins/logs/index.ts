/**
 * The logs plugin: objects' output collected through the backend's log routing into files the
 * daemon keeps per object, and build and object logs streamed live (GET /logs/{id}?follow=true,
 * WS /logstream/{id}).
 */
import { definePlugin } from 'jinad/plugin';
import { createCollector } from './collector.ts';
import { LogsOptionsSchema, type LogsOptions } from './options.ts';
import { logRoutes } from './routes.ts';

export default definePlugin<LogsOptions>({
  name: 'logs',
  dependsOn: ['workspace'],
  description: 'Build and object logs: files per object, followed live',
  options: LogsOptionsSchema,
  setup(api) {
    const collector = createCollector(api);
    api.onStart(collector.start);
    // After listening: backfilling hundreds of objects must not delay the daemon's start.
    api.onReady(collector.reconcile);
    api.onClose(collector.stop);
    logRoutes(api, collector);
    api.onStatus(async () => ({ log_followers: api.logFiles.followers() }));
  },
});
