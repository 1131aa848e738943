import { createHash, randomBytes } from 'node:crypto';
import { TestBrowser } from './oauth-browser.js';
import { TEST_USER } from './oauth-server.js';
import type { TestServer } from './test-server.js';

/** A PKCE pair (RFC 7636, S256). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** POST /register with a JSON body; returns status, headers and parsed body. */
export async function register(
  server: TestServer,
  metadata: unknown,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** A registered client for tests. */
export interface TestClient {
  clientId: string;
  secret?: string;
  redirectUri: string;
}

/** Registers a public (`none`) or `client_secret_post` client with one loopback redirect URI. */
export async function registerClient(
  server: TestServer,
  method: 'none' | 'client_secret_post' = 'none',
  extra: Record<string, unknown> = {},
): Promise<TestClient> {
  const redirectUri = 'http://127.0.0.1:9/callback';
  const { status, body } = await register(server, {
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: method,
    grant_types: ['authorization_code', 'refresh_token'],
    client_name: 'test client',
    ...extra,
  });
  if (status !== 201) throw new Error(`registration failed: ${JSON.stringify(body)}`);
  return { clientId: body.client_id as string, secret: body.client_secret as string | undefined, redirectUri };
}

/** The /authorize URL for `client` with sane defaults, overridable (`undefined` removes a parameter). */
export function authorizeUrl(server: TestServer, client: TestClient, params: Record<string, string | undefined> = {}): string {
  const url = new URL(`${server.url}/authorize`);
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    state: 'xyz',
    resource: server.mcpUrl,
    ...params,
  };
  for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** POST /token with form fields; returns status, headers and parsed body. */
export async function tokenRequest(
  server: TestServer,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** Client authentication fields for a form (`client_id`, plus `client_secret` for secret clients). */
export function clientFields(client: TestClient): Record<string, string> {
  return { client_id: client.clientId, ...(client.secret ? { client_secret: client.secret } : {}) };
}

/** Runs authorize (login + consent) and returns the code and verifier. */
export async function obtainCode(
  server: TestServer,
  client: TestClient,
  params: Record<string, string | undefined> = {},
  browser = new TestBrowser(TEST_USER),
): Promise<{ code: string; verifier: string; callback: URL }> {
  const { verifier, challenge } = pkce();
  const callback = await browser.authorize(authorizeUrl(server, client, { code_challenge: challenge, ...params }));
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback}`);
  return { code, verifier, callback };
}

/** The whole flow: returns the token response body. */
export async function obtainTokens(
  server: TestServer,
  client: TestClient,
  params: Record<string, string | undefined> = {},
): Promise<{ access_token: string; refresh_token?: string; scope: string; expires_in: number }> {
  const { code, verifier } = await obtainCode(server, client, params);
  const { status, body } = await tokenRequest(server, {
    grant_type: 'authorization_code',
    code,
    code_verifier: verifier,
    redirect_uri: client.redirectUri,
    ...clientFields(client),
  });
  if (status !== 200) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body as { access_token: string; refresh_token?: string; scope: string; expires_in: number };
}

/** POST an MCP initialize (2025-11-25) to the server with optional headers; returns the response. */
export function mcpInitialize(server: TestServer, headers: Record<string, string> = {}, url = server.mcpUrl): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}
