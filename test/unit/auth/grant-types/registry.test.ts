import { EventEmitter } from 'node:events';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { Request, Response } from 'express';
import type { OAuthClient } from '../../../../server/auth/clients.js';
import { validateClientMetadata } from '../../../../server/auth/clients.js';
import { GRANT_TYPE_HANDLERS, GRANT_TYPES, grantTypeHandler, isGrantType } from '../../../../server/auth/grant-types/registry.js';
import { OAuthErrorCode } from '../../../../server/auth/oauth-error.js';
import { createTokenService, type TokenServiceOptions } from '../../../../server/auth/token-service.js';
import { httpMetrics } from '../../../../server/http/middleware/http-metrics.js';
import { authorizationServerMetadata } from '../../../../server/http/routes/oauth/metadata.js';
import { createMetrics } from '../../../../server/metrics/metrics.js';
import { RequestStats } from '../../../../server/metrics/request-stats.js';

const GRANT_TYPES_DIR = new URL('../../../../server/auth/grant-types/', import.meta.url);
/** Files of the folder that are not a grant type. */
const NOT_GRANT_TYPES = new Set(['grant-type.ts', 'registry.ts']);

describe('grant-type registry', () => {
  it('lists each grant type once, and GRANT_TYPES are its names in order', () => {
    expect(GRANT_TYPES).toEqual(GRANT_TYPE_HANDLERS.map((handler) => handler.name));
    expect(new Set(GRANT_TYPES).size).toBe(GRANT_TYPES.length);
    expect([...GRANT_TYPES].sort()).toEqual(['authorization_code', 'client_credentials', 'refresh_token']);
  });

  it('has one file per grant type, each exporting a handler the registry lists', async () => {
    const files = readdirSync(GRANT_TYPES_DIR).filter((file) => file.endsWith('.ts') && !NOT_GRANT_TYPES.has(file));
    const exported: unknown[] = [];
    for (const file of files) {
      const module = (await import(new URL(file, GRANT_TYPES_DIR).href)) as Record<string, unknown>;
      const handlers = Object.values(module).filter((value) => GRANT_TYPE_HANDLERS.includes(value as never));
      expect({ file, handlers: handlers.length }).toEqual({ file, handlers: 1 });
      exported.push(...handlers);
    }
    expect(exported).toHaveLength(GRANT_TYPE_HANDLERS.length);
    expect(new Set(exported)).toEqual(new Set(GRANT_TYPE_HANDLERS));
  });

  it('knows exactly its own names', () => {
    for (const name of GRANT_TYPES) {
      expect(isGrantType(name)).toBe(true);
      expect(grantTypeHandler(name)?.name).toBe(name);
    }
    for (const other of ['password', 'implicit', 'urn:ietf:params:oauth:grant-type:device_code', '__proto__', 'toString', '']) {
      expect(isGrantType(other)).toBe(false);
      expect(grantTypeHandler(other)).toBeUndefined();
    }
  });
});

describe('lists derived from the grant-type registry', () => {
  it('grant_types_supported (RFC 8414) is the registry', () => {
    const urls = { issuer: 'https://as.example', resource: 'https://as.example/mcp' } as Parameters<typeof authorizationServerMetadata>[0];
    expect(authorizationServerMetadata(urls, { clientIdMetadataDocuments: false }).grant_types_supported).toEqual(GRANT_TYPES);
  });

  it('client registration accepts every registry grant type and nothing else', () => {
    const base = { redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'client_secret_basic' };
    expect(validateClientMetadata({ ...base, grant_types: [...GRANT_TYPES] }, false).grant_types).toEqual(GRANT_TYPES);
    for (const name of GRANT_TYPES) {
      expect(validateClientMetadata({ ...base, grant_types: ['authorization_code', name] }, false).grant_types).toContain(name);
    }
    expect(() => validateClientMetadata({ ...base, grant_types: ['authorization_code', 'password'] }, false)).toThrow(
      expect.objectContaining({ code: OAuthErrorCode.InvalidClientMetadata }),
    );
  });

  it('the token endpoint dispatches every registry grant type and refuses the rest as unsupported', async () => {
    const service = createTokenService({ tokens: { ttlSeconds: 60 } } as unknown as TokenServiceOptions);
    const client = { client_id: 'c', grant_types: [], token_endpoint_auth_method: 'none' } as unknown as OAuthClient;
    for (const name of GRANT_TYPES) {
      await expect(service.grant(client, { grant_type: name })).rejects.toMatchObject({ code: OAuthErrorCode.UnauthorizedClient });
    }
    await expect(service.grant(client, { grant_type: 'password' })).rejects.toMatchObject({ code: OAuthErrorCode.UnsupportedGrantType });
  });

  it('the grant_type label of oauth_tokens_issued_total is a registry name or other', async () => {
    const metrics = createMetrics();
    const middleware = httpMetrics({ metrics, stats: new RequestStats() });
    for (const grantType of [...GRANT_TYPES, 'password', 7]) {
      const res = Object.assign(new EventEmitter(), { statusCode: 200, locals: {} });
      const req = { method: 'POST', baseUrl: '', route: { path: '/token' }, body: { grant_type: grantType } };
      middleware(req as unknown as Request, res as unknown as Response, () => undefined);
      res.emit('close');
    }
    const labels = (await metrics.oauthTokensIssued.get()).values.map((value) => [value.labels.grant_type, value.value]);
    expect(labels).toEqual([...GRANT_TYPES.map((name) => [name, 1]), ['other', 2]]);
  });
});
