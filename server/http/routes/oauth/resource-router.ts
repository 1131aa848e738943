import express, { type Router } from 'express';
import type { AuthUrls } from '../../../auth/auth-server.js';
import { protectedResourceMetadataHandler } from './protected-resource-metadata.js';

/** Options of {@link protectedResourceRouter}. */
export interface ProtectedResourceRouterOptions {
  urls: AuthUrls;
}

/**
 * RFC 9728 metadata at the path-suffixed and root well-known URLs (checklist B.9-10). Used alone in external-AS mode,
 * where `authorization_servers` names the external issuer; the built-in AS mounts it inside its own router.
 */
export function protectedResourceRouter({ urls }: ProtectedResourceRouterOptions): Router {
  const router = express.Router();
  const resourcePath = new URL(urls.resource).pathname;
  router.get([`/.well-known/oauth-protected-resource${resourcePath}`, '/.well-known/oauth-protected-resource'], protectedResourceMetadataHandler({ urls }));
  return router;
}
