import { describe, expect, it } from '@jest/globals';
import type { AccessTokenClaims } from '../../../server/auth/access-tokens.js';
import { createBearerAuthenticator } from '../../../server/auth/bearer-authenticator.js';
import { OAuthError, OAuthErrorCode } from '../../../server/auth/oauth-error.js';
import { AppError, AppErrorCode } from '../../../server/errors/app-error.js';

const JWT = 'aaa.bbb.ccc';
const claims = {
  client_id: 'c',
  sub: 'u',
  scope: 'mcp:tools claude:ask',
  gid: 'g',
  iss: 'i',
  aud: 'r',
  iat: 0,
  exp: 0,
  jti: 'j',
} as unknown as AccessTokenClaims;

function authenticator(verify: () => Promise<AccessTokenClaims>, find: () => Promise<undefined> = async () => undefined) {
  return createBearerAuthenticator({
    resource: 'https://mcp.example.com/mcp',
    resourceMetadataUrl: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp',
    requiredScopes: ['mcp:tools'],
    challengeScopes: ['mcp:tools', 'claude:ask'],
    tokens: { verify },
    apiKeys: { find },
  });
}

describe('bearer authentication', () => {
  it('a token the storage cannot check is a 503 to retry, not a 401 that signs the user out', async () => {
    const storageDown = authenticator(async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    });
    const refusal = await storageDown({ authorization: `Bearer ${JWT}`, tokenInQuery: false }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(AppError);
    expect(refusal).toMatchObject({ code: AppErrorCode.ServiceUnavailable, status: 503, details: { retryAfter: 5 } });
    expect((refusal as Error).message).not.toContain('ECONNREFUSED');
    // API keys live in storage too.
    const keysDown = authenticator(
      async () => claims,
      async () => {
        throw new Error('SQLITE_BUSY');
      },
    );
    await expect(keysDown({ authorization: 'Bearer opaque-key', tokenInQuery: false })).rejects.toMatchObject({ status: 503 });
  });

  it('a token judged bad is still a 401 invalid_token with the challenge', async () => {
    const bad = authenticator(async () => {
      throw new OAuthError(OAuthErrorCode.InvalidToken, 'expired');
    });
    const refusal = await bad({ authorization: `Bearer ${JWT}`, tokenInQuery: false }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(OAuthError);
    expect((refusal as OAuthError).challenge).toContain('error="invalid_token"');
  });

  it('challenges without a token name the basic-use scopes, and a step-up names the scopes of the token plus the one needed', async () => {
    const ok = authenticator(async () => claims);
    const missing = await ok({ tokenInQuery: false }).catch((error: unknown) => error);
    expect((missing as OAuthError).challenge).toContain('scope="mcp:tools claude:ask"');
    expect((missing as OAuthError).challenge).not.toContain('error=');
    const caller = await ok({ authorization: `Bearer ${JWT}`, tokenInQuery: false });
    const stepUp = ok.stepUp(caller, ['claude:admin']);
    expect(stepUp.code).toBe(OAuthErrorCode.InsufficientScope);
    expect(stepUp.challenge).toContain('scope="mcp:tools claude:ask claude:admin"');
  });
});
