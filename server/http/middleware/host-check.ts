import { validateHostHeader } from '@modelcontextprotocol/server';
import type { RequestHandler } from 'express';
import { AppError, AppErrorCode } from '../../errors/app-error.js';

/**
 * DNS-rebinding protection for loopback binds: a page on evil.example whose name was re-pointed at 127.0.0.1 sends
 * `Host: evil.example`, which is refused with 403. The SDK's validator does the parsing (ports, IPv6 brackets); the
 * answer goes through our error translator so it looks like every other error.
 */
export function requireAllowedHost(allowedHostnames: readonly string[]): RequestHandler {
  const allowed = [...allowedHostnames];
  return function hostCheck(req, _res, next) {
    const result = validateHostHeader(req.headers.host, allowed);
    if (result.ok) return next();
    next(new AppError(AppErrorCode.HostNotAllowed, `${result.message} (ALLOWED_HOSTS)`));
  };
}
