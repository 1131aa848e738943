import type { RequestHandler } from 'express';
import type { AuthUrls } from '../../../auth/auth-server.js';
import { protectedResourceMetadata } from './metadata.js';

/** Options of {@link protectedResourceMetadataHandler}. */
export interface ProtectedResourceMetadataOptions {
  urls: AuthUrls;
}

/** `GET /.well-known/oauth-protected-resource[/mcp]` (RFC 9728 §3): the same document at the path-suffixed and root URLs. */
export function protectedResourceMetadataHandler({ urls }: ProtectedResourceMetadataOptions): RequestHandler {
  const body = protectedResourceMetadata(urls);
  return function serveProtectedResourceMetadata(_req, res) {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(body);
  };
}
