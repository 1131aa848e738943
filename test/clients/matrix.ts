import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startMockAnthropicApi, type MockAnthropicApi } from '../fixtures/mock-anthropic-api.js';
import { createClaudeSandbox, type ClaudeSandbox } from '../helpers/claude-env.js';
import { startOAuthServer, TEST_USER } from '../helpers/oauth-server.js';
import type { TestServer } from '../helpers/test-server.js';

/**
 * The server every client of the matrix talks to: OAuth on with a local user, an API key for clients that take one,
 * one gateway upstream (`alpha`, the echo fixture), and Claude pointed at a mock Messages API. Every client lists the
 * tools, calls one, reads an error and refreshes against it.
 */
export interface MatrixServer {
  server: TestServer;
  mock: MockAnthropicApi;
  claude: ClaudeSandbox;
  /** An API key with every scope, for the clients that authenticate with a header. */
  apiKey: string;
  /** The MCP_CONFIG_PATH file (one stdio upstream, `alpha`). */
  gatewayConfig: string;
  dir: string;
  stop(): Promise<void>;
}

export const UPSTREAM_FIXTURE = path.resolve('test/fixtures/gateway-upstream.mjs');

/** Starts the matrix server on 127.0.0.1:0. */
export async function startMatrixServer(): Promise<MatrixServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-clients-'));
  const gatewayConfig = path.join(dir, 'mcp_config.json');
  writeFileSync(gatewayConfig, JSON.stringify({ mcpServers: { alpha: { command: process.execPath, args: [UPSTREAM_FIXTURE] } } }));
  const mock = await startMockAnthropicApi();
  const claude = createClaudeSandbox(mock.url);
  const apiKey = `ccm_matrix_${Date.now().toString(36)}0123456789`;
  const server = await startOAuthServer({
    mcpConfigPath: gatewayConfig,
    apiKeys: [`${apiKey}:matrix-key`],
    workspaceRoots: [claude.workspace],
    oauthCimdAllowPrivate: true,
  });
  // The upstream is up before any client connects; what a client sees while one is still starting is tested in
  // gateway-startup.test.ts.
  const deadline = Date.now() + 20_000;
  while (server.container.gateway.registry.get('alpha')?.status !== 'running') {
    if (Date.now() > deadline) throw new Error('the alpha upstream did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    server,
    mock,
    claude,
    apiKey,
    gatewayConfig,
    dir,
    async stop() {
      await server.stop();
      await mock.close();
      claude.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What every client must be able to do with its default scopes: the tools it lists include these. */
export const DEFAULT_TOOLS = [
  'server_status',
  'claude_ask',
  'claude_plan',
  'claude_resume',
  'claude_checkpoint',
  'claude_background_tasks',
  'alpha__echo',
];

/** Screenshots of the sign-in and consent pages go here (not committed): `test-results/screenshots`. */
export const SCREENSHOTS = path.resolve('test-results', 'screenshots');

/** A loopback HTTP server standing in for a client's redirect URI: records every request's URL. */
export interface CallbackCatcher {
  url: string;
  /** Resolves with the first callback URL that carries `code` or `error`. */
  next(): Promise<URL>;
  close(): Promise<void>;
}

export async function startCallbackCatcher(pathname = '/callback'): Promise<CallbackCatcher> {
  const waiting: Array<(url: URL) => void> = [];
  const seen: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p>You can close this window.</p>');
    if (!url.searchParams.has('code') && !url.searchParams.has('error')) return;
    const next = waiting.shift();
    if (next) next(url);
    else seen.push(url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${pathname}`,
    next: () => (seen.length ? Promise.resolve(seen.shift()!) : new Promise<URL>((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * Headless Chromium (Debian's `chromium`) signing in and consenting as a person would: it opens the authorization URL,
 * types the user name and password, presses Sign in, reads the consent page and presses Allow; the browser then
 * follows the redirect to the client's callback. Screenshots of both pages are saved under `test-results/screenshots`.
 */
export class PersonInChromium {
  private browser?: Browser;

  static executable(): string {
    return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  }

  async start(): Promise<void> {
    this.browser = await chromium.launch({
      executablePath: PersonInChromium.executable(),
      // As root (CI) Chromium needs --no-sandbox; the network flags keep it from calling out of this machine.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }

  /** Signs in and approves at `authorizationUrl`; returns the page texts it saw. `shots` names the screenshots. */
  async approve(authorizationUrl: string, shots?: string): Promise<{ signIn: string; consent: string }> {
    const context = await this.browser!.newContext();
    const page = await context.newPage();
    try {
      await page.goto(authorizationUrl);
      const signIn = await page.locator('main').innerText();
      if (shots) await this.shoot(page, `${shots}-sign-in`);
      await page.fill('#username', TEST_USER.username);
      await page.fill('#password', TEST_USER.password);
      await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]')]);
      await page.waitForSelector('button[value=allow]');
      const consent = await page.locator('main').innerText();
      if (shots) await this.shoot(page, `${shots}-consent`);
      await Promise.all([
        page.waitForURL((url) => url.searchParams.has('code') || url.searchParams.has('error')),
        page.click('button[value=allow]'),
      ]);
      return { signIn, consent };
    } finally {
      await context.close();
    }
  }

  private async shoot(page: Page, name: string): Promise<void> {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  async stop(): Promise<void> {
    await this.browser?.close();
  }
}
