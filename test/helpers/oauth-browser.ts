/**
 * A scripted browser for the login and consent pages: follows `/authorize`, signs in, approves, and returns the
 * redirect the client would receive. Keeps cookies like a browser (one jar per instance).
 */
export class TestBrowser {
  private readonly cookies = new Map<string, string>();

  constructor(private readonly credentials: { username: string; password: string }) {}

  /** The `Cookie` header this browser sends. */
  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private remember(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
    }
  }

  /** GET with this browser's cookies, not following redirects. */
  async get(url: string): Promise<Response> {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: this.cookieHeader() } });
    this.remember(response);
    return response;
  }

  /** POST a form with this browser's cookies, not following redirects. */
  async post(url: string, fields: Record<string, string>): Promise<Response> {
    const response = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
    });
    this.remember(response);
    return response;
  }

  /**
   * Completes an authorization: signs in when asked, then answers the consent page with `decision`. Returns the final
   * redirect URL (the client's callback with `code` or `error`).
   */
  async authorize(authorizeUrl: string, decision: 'allow' | 'deny' = 'allow'): Promise<URL> {
    let response = await this.get(authorizeUrl);
    for (let step = 0; step < 4; step++) {
      if (response.status === 302 || response.status === 303) return new URL(response.headers.get('location')!, authorizeUrl);
      if (response.status !== 200) throw new Error(`unexpected ${response.status}: ${await response.text()}`);
      const page = await response.text();
      const form = parseForm(page);
      const action = new URL(form.action, authorizeUrl).toString();
      response = page.includes('name="password"')
        ? await this.post(action, { ...form.hidden, ...this.credentials })
        : await this.post(action, { ...form.hidden, decision, remember: '1' });
    }
    throw new Error('authorization did not finish');
  }
}

/** The action and hidden fields of the first form of a page. */
export function parseForm(html: string): { action: string; hidden: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form in page: ${html.slice(0, 300)}`);
  const hidden: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[match[1]!] = match[2]!;
  return { action: action.replace(/&amp;/g, '&'), hidden };
}
