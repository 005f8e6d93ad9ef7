/**
 * The logs plugin: containers' output collected through Docker's fluentd log driver into files
 * in their workspace, and streamed live (GET /logs/{id}?follow=true, WS /logstream/{id}).
 */
import { definePlugin } from '../../src/plugins.ts';
import { createCollector } from './collector.ts';
import { logRoutes } from './routes.ts';

export default definePlugin({
  name: 'logs',
  dependsOn: ['workspace'],
  description: 'Build and container logs: files per object, followed live',
  setup(api) {
    const collector = createCollector(api);
    api.decorateContainers(collector.decorate);
    api.onReconcile(collector.start);
    api.onClose(collector.stop);
    logRoutes(api, collector);
    api.onStatus(async () => ({ log_followers: api.logFiles.followers() }));
  },
});
