/**
 * OpenAPI metadata for a route. hono-openapi's `describeRoute` is an async pass-through
 * middleware (`await next()`), which costs a quarter of a trivial route's throughput; the
 * generator only reads the metadata it carries, so this pass-through is synchronous.
 */
import type { MiddlewareHandler } from 'hono';
import { type DescribeRouteOptions, describeRoute, uniqueSymbol } from 'hono-openapi';

export function describe(spec: DescribeRouteOptions): MiddlewareHandler {
  const passthrough: MiddlewareHandler = (_c, next) => next();
  return Object.assign(passthrough, { [uniqueSymbol]: (describeRoute(spec) as unknown as Record<symbol, unknown>)[uniqueSymbol] });
}
