import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteSpec } from '../contract/routes';
import { ApiError } from './errors';

export interface RouteContext {
  request: IncomingMessage;
  response: ServerResponse;
  /** Named path segments, e.g. `{ id: '42' }` for `/api/runs/:id`. */
  params: Record<string, string>;
  url: URL;
  /**
   * The user who sent it, on a server shared by several users (`--users-file`); undefined on a
   * single-user server. Runs, sweeps, checks and imports are then that user's alone.
   */
  user?: string;
}

export type Handler = (context: RouteContext) => Promise<void> | void;

interface Route {
  method: string;
  pattern: string;
  segments: string[];
  handler: Handler;
}

/** A small method + path router; unknown query keys are ignored (JupyterLab adds cache-busters). */
export class Router {
  add(method: string, pattern: string, handler: Handler): this {
    this._routes.push({ method, pattern, segments: split(pattern), handler });
    return this;
  }

  /** Registers the handler of an endpoint of the route table (`contract/routes.ts`). */
  on(spec: Pick<RouteSpec, 'method' | 'path'>, handler: Handler): this {
    return this.add(spec.method, spec.path, handler);
  }

  /** Method and pattern of every route, in the order they were added. */
  routes(): { method: string; path: string }[] {
    return this._routes.map(({ method, pattern }) => ({
      method,
      path: pattern
    }));
  }

  /** Finds the handler for a request, or throws 404 / 405. */
  resolve(
    method: string,
    pathname: string
  ): { handler: Handler; params: Record<string, string> } {
    const segments = split(pathname);
    let pathMatched = false;
    for (const route of this._routes) {
      const params = match(route.segments, segments);
      if (!params) {
        continue;
      }
      pathMatched = true;
      if (
        route.method === method ||
        (method === 'HEAD' && route.method === 'GET')
      ) {
        return { handler: route.handler, params };
      }
    }
    if (pathMatched) {
      throw new ApiError(
        'method-not-allowed',
        `${method} is not allowed on ${pathname}.`
      );
    }
    throw new ApiError('not-found', `No API endpoint at ${pathname}.`);
  }

  private _routes: Route[] = [];
}

function split(path: string): string[] {
  return path.split('/').filter(s => s.length > 0);
}

function match(
  pattern: string[],
  actual: string[]
): Record<string, string> | undefined {
  if (pattern.length !== actual.length) {
    return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i].startsWith(':')) {
      params[pattern[i].slice(1)] = decodeURIComponent(actual[i]);
    } else if (pattern[i] !== actual[i]) {
      return undefined;
    }
  }
  return params;
}
