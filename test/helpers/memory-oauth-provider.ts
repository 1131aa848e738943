/** Tokens as both MCP SDK lines hand them to a provider. */
export type ProviderTokens = { access_token: string; refresh_token?: string };

/** Options of {@link MemoryOAuthProvider}. */
export interface MemoryOAuthProviderOptions<T> {
  redirectUrl: string;
  /** Plays the person at the authorization URL (a scripted browser, headless Chromium, or nobody). */
  onAuthorize: (url: URL) => Promise<T>;
  clientName?: string;
}

/**
 * The OAuthClientProvider both MCP SDK lines (`@modelcontextprotocol/sdk` and `@modelcontextprotocol/client`) accept,
 * kept in memory, with the client's default registration: a public client (`none`) using the authorization code and
 * refresh grants. What `onAuthorize` returned for the last authorization URL is {@link pending}.
 */
export class MemoryOAuthProvider<T = URL> {
  client?: Record<string, unknown>;
  saved?: ProviderTokens;
  verifier = '';
  discovery?: unknown;
  /** Every authorization URL the client sent the person to. */
  readonly authorizations: URL[] = [];
  /** The outcome of the last authorization (for a scripted browser: the callback URL). */
  pending?: Promise<T>;
  readonly redirectUrl: string;
  private readonly onAuthorize: (url: URL) => Promise<T>;
  private readonly clientName: string;

  constructor({ redirectUrl, onAuthorize, clientName = 'test client' }: MemoryOAuthProviderOptions<T>) {
    this.redirectUrl = redirectUrl;
    this.onAuthorize = onAuthorize;
    this.clientName = clientName;
  }

  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.client as never;
  }
  saveClientInformation(info: Record<string, unknown>) {
    this.client = info;
  }
  tokens() {
    return this.saved as never;
  }
  saveTokens(tokens: ProviderTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizations.push(url);
    this.pending = this.onAuthorize(url);
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}
