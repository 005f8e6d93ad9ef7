/**
 * The runtime's public API, imported by executors as `jinad`:
 *   import { Executor, requests, DocumentArray } from 'jinad';
 */
export { Document, DocumentArray, type DocumentData, type NamedScore } from './document.ts';
export { Executor, type ExecutorMetas, type RequestContext, requests } from './executor.ts';
export { Flow, type FlowOptions } from './flow.ts';
export { Pod } from './pod.ts';
export { DefinitionError, loadFlow, parseFlow } from './config.ts';
export { type DataRequest, newRequest } from './protocol.ts';
export { RUNTIME_VERSION } from './version.ts';
