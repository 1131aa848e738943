import type { RequestHandler } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';

/**
 * Compiles allow-list entries (`https://app.example.com`, `http://localhost:*`) into one predicate. `*` stands for
 * any port only; scheme and host always match exactly (case-insensitive), so a look-alike host never passes.
 */
export function compileOriginAllowList(entries: readonly string[]): (origin: string) => boolean {
  const exact = new Set<string>();
  const anyPort: string[] = [];
  for (const entry of entries) {
    const lower = entry.toLowerCase().replace(/\/+$/, '');
    if (lower.endsWith(':*')) anyPort.push(lower.slice(0, -2));
    else exact.add(lower);
  }
  return (origin) => {
    const lower = origin.toLowerCase();
    if (exact.has(lower)) return true;
    const withoutPort = lower.replace(/:\d+$/, '');
    return anyPort.includes(withoutPort);
  };
}

/**
 * Refuses browser requests from origins not on the allow-list with 403 (MCP transport spec, "Security Warning":
 * servers MUST validate Origin). Requests without `Origin` (server-to-server clients, CLIs) pass.
 */
export function requireAllowedOrigin(isAllowed: (origin: string) => boolean): RequestHandler {
  return function originCheck(req, _res, next) {
    const origin = req.get('origin');
    if (origin === undefined || isAllowed(origin)) return next();
    next(new AppError(AppErrorCode.OriginNotAllowed, `Origin ${JSON.stringify(origin)} is not allowed (ALLOWED_ORIGINS)`));
  };
}
