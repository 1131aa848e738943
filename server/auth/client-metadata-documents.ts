import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { OAuthClient } from './clients.js';
import { OAuthError, OAuthErrorCode } from './oauth-error.js';
import { validateRedirectUri } from './redirect-uri.js';

/** Options of {@link createClientMetadataDocuments}. */
export interface ClientMetadataDocumentsOptions {
  /**
   * Allow `http:` and private/loopback addresses — for tests and closed networks only. Off, fetches go to public
   * addresses over https only (SSRF protection, MCP-Sec "Client ID Metadata Document Security").
   */
  allowPrivate?: boolean;
  /** Largest accepted document (bytes). */
  maxBytes?: number;
  /** Fetch time limit (ms). */
  timeoutMs?: number;
  now?: () => number;
}

/** Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00): https URLs as client ids. */
export interface ClientMetadataDocuments {
  /** True when `clientId` is meant as a metadata-document URL (it starts with `https://`, or `http://` when allowed). */
  isDocumentUrl(clientId: string): boolean;
  /**
   * The client described by the document at `clientId`, fetched or from cache. Throws `invalid_client` (direct 400 at
   * /authorize, never a redirect) for a bad URL, fetch failure without a cached copy, or a bad document.
   */
  resolve(clientId: string): Promise<OAuthClient>;
}

const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, CGNAT, multicast and other non-public addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

const invalid = (message: string) => new OAuthError(OAuthErrorCode.InvalidClient, message);

/** Checks a client_id URL (CIMD §3): https, a path, no fragment, no userinfo, no dot segments. */
function checkUrl(clientId: string, allowHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw invalid('client_id is not a valid URL');
  }
  if (url.protocol !== 'https:' && !(allowHttp && url.protocol === 'http:')) throw invalid('client_id URL must use https');
  if (url.hash || clientId.includes('#')) throw invalid('client_id URL must not have a fragment');
  if (url.username || url.password) throw invalid('client_id URL must not contain credentials');
  if (url.pathname === '/' || url.pathname === '') throw invalid('client_id URL must have a path');
  if (/\/\.\.?(\/|$)/.test(clientId.replace(/^[a-z]+:\/\/[^/]+/i, ''))) throw invalid('client_id URL must not contain . or .. segments');
  return url;
}

function cacheSeconds(header: string | undefined): number {
  if (!header) return 300;
  if (/no-store|no-cache/i.test(header)) return 0;
  const maxAge = /max-age=(\d+)/i.exec(header);
  return maxAge ? Math.min(Number(maxAge[1]), 86_400) : 300;
}

/** Turns a fetched document into a client, enforcing CIMD §4 and §6 (checklist D.23-25). */
function toClient(url: string, document: unknown): OAuthClient {
  if (!document || typeof document !== 'object' || Array.isArray(document)) throw invalid('client metadata document is not a JSON object');
  const doc = document as Record<string, unknown>;
  if (doc.client_id !== url) throw invalid('client metadata document: client_id differs from its URL');
  if (typeof doc.client_name !== 'string' || doc.client_name.length === 0)
    throw invalid('client metadata document: client_name is required');
  if (!Array.isArray(doc.redirect_uris) || doc.redirect_uris.length === 0)
    throw invalid('client metadata document: redirect_uris is required');
  if (doc.client_secret !== undefined || doc.client_secret_expires_at !== undefined)
    throw invalid('client metadata document must not contain a client secret');
  const method = typeof doc.token_endpoint_auth_method === 'string' ? doc.token_endpoint_auth_method : 'none';
  const supported = Array.isArray(doc.token_endpoint_auth_methods_supported) ? doc.token_endpoint_auth_methods_supported : [];
  // ChatGPT prefers private_key_jwt but lists none too: negotiate none (checklist D.25). Secret-based methods are refused.
  if (method !== 'none' && !supported.includes('none')) {
    throw invalid(`client metadata document: token_endpoint_auth_method ${method} is not supported; use none`);
  }
  const redirectUris = doc.redirect_uris.map((uri) => {
    try {
      return validateRedirectUri(uri, true);
    } catch {
      throw invalid(`client metadata document: invalid redirect_uri ${String(uri)}`);
    }
  });
  return {
    client_id: url,
    client_id_issued_at: 0,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    client_name: doc.client_name,
    client_uri: typeof doc.client_uri === 'string' ? doc.client_uri : undefined,
    logo_uri: typeof doc.logo_uri === 'string' ? doc.logo_uri : undefined,
  };
}

/** Creates the CIMD resolver with its per-URL cache (fresh per Cache-Control; stale copies cover fetch failures). */
export function createClientMetadataDocuments(options: ClientMetadataDocumentsOptions = {}): ClientMetadataDocuments {
  const allowPrivate = options.allowPrivate ?? false;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { client: OAuthClient; freshUntil: number }>();

  // The address check runs at connect time, on the address actually dialled, so DNS rebinding cannot slip past it.
  const guardedLookup = (hostname: string, opts: object, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...opts, all: true }, (error, addresses) => {
      if (error) return callback(error);
      const list = addresses as LookupAddress[];
      if (!allowPrivate && list.some((entry) => isPrivateAddress(entry.address))) {
        return callback(new Error(`refusing to fetch from a private address (${hostname})`));
      }
      const wantsAll = (opts as { all?: boolean }).all;
      if (wantsAll) callback(null, list);
      else callback(null, list[0]!.address, list[0]!.family);
    });
  };

  function fetchDocument(url: URL): Promise<{ body: unknown; maxAge: number }> {
    return new Promise((resolve, reject) => {
      const request = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method: 'GET', headers: { accept: 'application/json' }, lookup: guardedLookup as never, timeout: timeoutMs },
        (response: IncomingMessage) => {
          if (response.statusCode !== 200) {
            response.resume();
            // Redirects are not followed (CIMD §6): a 3xx is a failure like any other non-200.
            return reject(new Error(`metadata document answered ${response.statusCode}`));
          }
          let size = 0;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              request.destroy(new Error('metadata document too large'));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            try {
              resolve({
                body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
                maxAge: cacheSeconds(response.headers['cache-control']),
              });
            } catch {
              reject(invalid('client metadata document is not JSON'));
            }
          });
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('metadata document fetch timed out')));
      request.on('error', reject);
      request.end();
    });
  }

  return {
    isDocumentUrl(clientId) {
      return clientId.startsWith('https://') || (allowPrivate && clientId.startsWith('http://'));
    },
    async resolve(clientId) {
      const url = checkUrl(clientId, allowPrivate);
      const cached = cache.get(clientId);
      if (cached && cached.freshUntil > now()) return cached.client;
      let fetched: { body: unknown; maxAge: number };
      try {
        fetched = await fetchDocument(url);
      } catch (error) {
        if (error instanceof OAuthError) throw error;
        if (cached) return cached.client; // transient failure: serve the stale copy
        throw invalid(`could not fetch the client metadata document (${(error as Error).message})`);
      }
      const client = toClient(clientId, fetched.body);
      if (cache.size > 1000) cache.clear();
      cache.set(clientId, { client, freshUntil: now() + fetched.maxAge * 1000 });
      return client;
    },
  };
}
