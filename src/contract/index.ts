/**
 * The wire contract: the shapes the REST API accepts and returns (JinaD 2.0's names), as valibot
 * schemas and their types. Routes, /openapi.json, the client and the CLI all take them from here;
 * this folder imports nothing but valibot and itself (the client ships in the runtime image).
 */
export * from './common.ts';
export * from './ids.ts';
export * from './kv.ts';
export * from './logs.ts';
export * from './objects.ts';
export * from './workspace.ts';
export * from './resources.ts';
export * from './restart.ts';
export * from './auth.ts';
export * from './deployments.ts';
export * from './placement.ts';
