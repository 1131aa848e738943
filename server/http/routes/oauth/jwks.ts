import type { RequestHandler } from 'express';
import type { SigningKeys } from '../../../auth/signing-keys.js';

/** Options of {@link jwksHandler}. */
export interface JwksOptions {
  keys: Pick<SigningKeys, 'jwks' | 'active'>;
}

/** `GET /.well-known/jwks.json`: current and previous public keys (RFC 7517), so rotation never breaks verifiers. */
export function jwksHandler({ keys }: JwksOptions): RequestHandler {
  return async function serveJwks(_req, res) {
    await keys.active(); // makes sure a first key exists before anyone asks for it
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(await keys.jwks());
  };
}
