import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { clientInformation, type ClientRepository } from '../../../auth/clients.js';
import { OAuthError, OAuthErrorCode } from '../../../auth/oauth-error.js';
import type { EventBus } from '../../../events/bus.js';
import { noStore } from '../../middleware/oauth-request.js';

/** Options of {@link registerHandler}. */
export interface RegisterOptions {
  clients: Pick<ClientRepository, 'register'>;
  events?: EventBus;
}

/**
 * `POST /register`: Dynamic Client Registration (RFC 7591 §3). Credential-less; answers 201 with the metadata as
 * stored, plus `client_secret` and `client_secret_expires_at: 0` for secret-based methods (checklist D.19-22).
 */
export function registerHandler({ clients, events }: RegisterOptions): Array<RequestHandler | ErrorRequestHandler> {
  const json = express.json({ limit: '32kb', type: () => true });
  const parseJson: RequestHandler = function parseRegistration(req, res, next) {
    if (!req.is('application/json')) {
      return next(new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'Send the client metadata as application/json'));
    }
    json(req, res, next);
  };
  const badJson: ErrorRequestHandler = function registrationParseError(error, _req, _res, next) {
    next(error instanceof OAuthError ? error : new OAuthError(OAuthErrorCode.InvalidClientMetadata, 'The body is not valid JSON'));
  };
  const register: RequestHandler = async function registerClient(req, res) {
    const { client, clientSecret } = await clients.register(req.body);
    events?.emit('auth.client_registered', {
      clientId: client.client_id,
      clientName: client.client_name,
      authMethod: client.token_endpoint_auth_method,
    });
    res.status(201).json(clientInformation(client, clientSecret));
  };
  return [noStore, parseJson, badJson, register];
}
