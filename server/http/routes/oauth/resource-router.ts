import express, { type Router } from 'express';
import { serverScopes, type AuthUrls, type UpstreamNames } from '../../../auth/auth-server.js';
import { AppError, AppErrorCode } from '../../../errors/app-error.js';
import { serverResourceMetadata } from './metadata.js';
import { protectedResourceMetadataHandler } from './protected-resource-metadata.js';

/** Options of {@link protectedResourceRouter}. */
export interface ProtectedResourceRouterOptions {
  urls: AuthUrls;
  /** Gateway upstreams: each `/servers/{name}/mcp` has metadata of its own (absent: none is served). */
  upstreams?: UpstreamNames;
}

/**
 * RFC 9728 metadata at the path-suffixed and root well-known URLs (checklist B.9-10). Used alone in external-AS mode,
 * where `authorization_servers` names the external issuer; the built-in AS mounts it inside its own router.
 */
export function protectedResourceRouter({ urls, upstreams }: ProtectedResourceRouterOptions): Router {
  const router = express.Router();
  const resourcePath = new URL(urls.resource).pathname;
  router.get(
    [`/.well-known/oauth-protected-resource${resourcePath}`, '/.well-known/oauth-protected-resource'],
    protectedResourceMetadataHandler({ urls }),
  );
  if (upstreams) {
    // Each upstream's own endpoint is a protected resource too: SDK clients look its metadata up at the path-suffixed
    // URL and refuse a `resource` that is not a prefix of the URL they connect to (checklist B.10).
    const serversPath = new URL(urls.serversBase).pathname;
    router.get(`/.well-known/oauth-protected-resource${serversPath}:name/mcp`, function serveServerResourceMetadata(req, res) {
      const name = req.params.name as string;
      if (!upstreams.has(name)) throw new AppError(AppErrorCode.NotFound, `No upstream server named "${name}"`);
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(serverResourceMetadata(urls, name, serverScopes(name)));
    });
  }
  return router;
}
