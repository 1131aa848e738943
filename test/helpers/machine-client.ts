/**
 * OAuth machine clients of a server reached by URL (a process, not an in-process TestServer): dynamic registration
 * of a confidential client for `client_credentials`, and its tokens.
 */

/** A registered confidential client. */
export interface MachineClient {
  client_id: string;
  client_secret: string;
}

/** The scopes the fault tests' clients ask for: connect, and call Claude. */
export const MACHINE_SCOPE = 'mcp:tools claude:ask';

const form = (fields: Record<string, string>): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

/** `POST /register` of a `client_credentials` client with a secret, for `scope`; the raw answer. */
export function registerMachineClient(url: string, { scope = MACHINE_SCOPE, timeoutMs = 10_000 } = {}): Promise<Response> {
  return fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'faults',
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'client_secret_post',
      scope,
    }),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** `POST /token` with `grant_type=client_credentials` (the client's registered scope); the raw answer. */
export function requestMachineToken(url: string, client: MachineClient, { timeoutMs = 10_000 } = {}): Promise<Response> {
  return fetch(`${url}/token`, {
    ...form({ grant_type: 'client_credentials', client_id: client.client_id, client_secret: client.client_secret }),
    signal: AbortSignal.timeout(timeoutMs),
  });
}

/** Registers a client for `scope` and gets it a token, failing loudly on any other answer. */
export async function machineToken(url: string, scope = MACHINE_SCOPE): Promise<{ client: MachineClient; token: string }> {
  const registered = await registerMachineClient(url, { scope });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const client = (await registered.json()) as MachineClient;
  const issued = await requestMachineToken(url, client);
  if (issued.status !== 200) throw new Error(`token: ${issued.status} ${await issued.text()}`);
  return { client, token: ((await issued.json()) as { access_token: string }).access_token };
}
