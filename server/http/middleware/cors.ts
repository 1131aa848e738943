import cors from 'cors';
import type { RequestHandler } from 'express';

/** Headers MCP clients send (2026-07-28 plus the 2025-era session headers). */
const MCP_REQUEST_HEADERS = [
  'Authorization',
  'Content-Type',
  'Accept',
  'MCP-Protocol-Version',
  'Mcp-Method',
  'Mcp-Name',
  'Mcp-Session-Id',
  'Last-Event-ID',
  'X-Request-Id',
];

/** Headers browser clients must be able to read (the challenge, the negotiated version, the session). */
const MCP_EXPOSED_HEADERS = ['WWW-Authenticate', 'MCP-Protocol-Version', 'Mcp-Session-Id', 'X-Request-Id'];

/**
 * CORS for MCP endpoints: only allow-listed origins get `Access-Control-Allow-Origin` (reflected, never `*`), so a
 * browser client such as MCP Inspector works while other sites cannot read responses.
 */
export function mcpCors(isAllowed: (origin: string) => boolean): RequestHandler {
  return cors({
    origin: (origin, callback) => callback(null, origin !== undefined && isAllowed(origin)),
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: MCP_REQUEST_HEADERS,
    exposedHeaders: MCP_EXPOSED_HEADERS,
    maxAge: 600,
  });
}

/**
 * CORS for public metadata (`/.well-known/*`, health): any origin may read it, including its 404s, because browser
 * clients probe several discovery URLs and must see each answer.
 */
export function publicCors(): RequestHandler {
  return cors({
    origin: '*',
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: MCP_REQUEST_HEADERS,
    exposedHeaders: MCP_EXPOSED_HEADERS,
    maxAge: 600,
  });
}
