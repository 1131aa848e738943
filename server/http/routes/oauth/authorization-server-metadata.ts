import type { RequestHandler } from 'express';
import type { AuthUrls } from '../../../auth/auth-server.js';
import { authorizationServerMetadata } from './metadata.js';

/** Options of {@link authorizationServerMetadataHandler}. */
export interface AuthorizationServerMetadataOptions {
  urls: AuthUrls;
  /** Advertise Client ID Metadata Document support (checklist C.15, D.23). */
  clientIdMetadataDocuments: boolean;
}

/**
 * RFC 8414 metadata, served at `/.well-known/oauth-authorization-server` and at the OpenID discovery paths with the
 * same issuer and `code_challenge_methods_supported` (checklist C.16), so every client's probe order succeeds.
 */
export function authorizationServerMetadataHandler({
  urls,
  clientIdMetadataDocuments,
}: AuthorizationServerMetadataOptions): RequestHandler {
  const body = authorizationServerMetadata(urls, { clientIdMetadataDocuments });
  return function serveAuthorizationServerMetadata(_req, res) {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(body);
  };
}
