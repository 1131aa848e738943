import { describeScope } from '../../../auth/scopes.js';

/**
 * The login, consent and error pages of the authorization endpoint: plain, accessible HTML with no scripts and no
 * build step. Every value is escaped; pages are sent with `frame-ancestors 'none'` and `no-referrer` by the routes.
 */

const escape = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · claude-code-mcp</title>
<style>
body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}
label{display:block;margin-top:1rem;font-weight:600}input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1.5rem;margin-right:.5rem;padding:.6rem 1.2rem;font-size:1rem}.warn{background:#fff4e5;border-left:4px solid #e69500;padding:.5rem 1rem}
code{background:#f2f2f2;padding:0 .25rem}.error{color:#b00020}.host{color:#555;margin-top:-.5rem}
ul.scopes{padding-left:1.2rem}ul.scopes li{margin:.5rem 0}.scope-warning{display:block;color:#8a4b00;font-size:.95em}
</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escape(value)}">`;

/** Options of {@link loginPage}. */
export interface LoginPageOptions {
  /** The server's host (from its public URL): the person must know where they are signing in. */
  host: string;
  action: string;
  interactionId: string;
  csrf: string;
  clientName: string;
  error?: string;
  /**
   * Sign-in through an upstream provider: the page then also shows what is being approved (checklist L.56: consent
   * comes before the redirect to the provider) and posts Approve/Deny to the consent action.
   */
  upstream?: {
    providerName: string;
    consentAction: string;
    details: Omit<ConsentPageOptions, 'action' | 'interactionId' | 'csrf' | 'subject' | 'host'>;
  };
}

/** The local-user login form. */
export function loginPage(options: LoginPageOptions): string {
  const upstream = options.upstream
    ? `${consentDetails(options.upstream.details)}
<form method="post" action="${escape(options.upstream.consentAction)}">
${hidden('interaction', options.interactionId)}${hidden('csrf', options.csrf)}
<label><input type="checkbox" name="remember" value="1" checked> Remember this decision</label>
<button type="submit" name="decision" value="allow">Approve and continue with ${escape(options.upstream.providerName)}</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>
<h2>Or sign in with a local account</h2>`
    : `<p><strong>${escape(options.clientName)}</strong> wants to connect to this server. Sign in to continue.</p>`;
  return layout(
    'Sign in',
    `<h1>Sign in to ${escape(options.host)}</h1>
<p class="host">claude-code-mcp at <strong>${escape(options.host)}</strong></p>
${upstream}
${options.error ? `<p class="error" role="alert">${escape(options.error)}</p>` : ''}
<form method="post" action="${escape(options.action)}">
${hidden('interaction', options.interactionId)}${hidden('csrf', options.csrf)}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** Options of {@link consentPage}. */
export interface ConsentPageOptions {
  /** The server's host (from its public URL). */
  host: string;
  action: string;
  interactionId: string;
  csrf: string;
  subject: string;
  clientName: string;
  /** The client registered itself (DCR): its name is self-asserted (checklist F.34). */
  unverified: boolean;
  redirectHost: string;
  /** The redirect goes to this machine only (checklist F.36). */
  loopbackRedirect: boolean;
  scopes: readonly string[];
  resource: string;
}

/** Who asks, where the browser goes next, what is granted, for which resource (checklist F.34). */
function consentDetails(
  options: Pick<ConsentPageOptions, 'clientName' | 'unverified' | 'resource' | 'redirectHost' | 'loopbackRedirect' | 'scopes'>,
): string {
  const scopes = options.scopes
    .map(describeScope)
    .map(
      ({ scope, text, warning }) =>
        `<li>${escape(text)} <code>${escape(scope)}</code>${warning ? `<strong class="scope-warning" role="note">⚠ ${escape(warning)}</strong>` : ''}</li>`,
    )
    .join('');
  return `<p><strong>${escape(options.clientName)}</strong>${options.unverified ? ' <em>(name given by the application itself, not verified)</em>' : ''}
wants access to <code>${escape(options.resource)}</code>.</p>
<p>After you decide, your browser goes to <strong>${escape(options.redirectHost)}</strong>.</p>
${options.loopbackRedirect ? '<p class="warn">This application receives the result on your own computer (a local address). Only continue if you started this connection yourself.</p>' : ''}
<h2>It asks to</h2>
<ul class="scopes">${scopes}</ul>`;
}

/** The consent page: who asks, where the browser goes next, what is granted, for which resource. */
export function consentPage(options: ConsentPageOptions): string {
  return layout(
    'Authorize access',
    `<h1>Authorize access to ${escape(options.host)}</h1>
<p>Signed in to <strong>${escape(options.host)}</strong> as <strong>${escape(options.subject)}</strong>.</p>
${consentDetails(options)}
<form method="post" action="${escape(options.action)}">
${hidden('interaction', options.interactionId)}${hidden('csrf', options.csrf)}
<label><input type="checkbox" name="remember" value="1" checked> Remember this decision</label>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`,
  );
}

/** One grant as the grants page lists it. */
export interface GrantRow {
  id: string;
  clientName: string;
  scopes: readonly string[];
  createdAt: number;
}

/** The user's grants, each with a Revoke button. */
export function grantsPage(options: {
  action: string;
  subject: string;
  csrf: string;
  grants: readonly GrantRow[];
  notice?: string;
}): string {
  const rows = options.grants
    .map(
      (grant) => `<tr><td>${escape(grant.clientName)}</td><td>${grant.scopes.map((scope) => `<code>${escape(scope)}</code>`).join(' ')}</td>
<td>${escape(new Date(grant.createdAt).toISOString().slice(0, 16).replace('T', ' '))} UTC</td>
<td><form method="post" action="${escape(options.action)}">${hidden('action', 'revoke')}${hidden('grant', grant.id)}${hidden('csrf', options.csrf)}<button type="submit">Revoke</button></form></td></tr>`,
    )
    .join('\n');
  return layout(
    'Connected applications',
    `<h1>Connected applications</h1>
<p>Signed in as <strong>${escape(options.subject)}</strong>. Revoking stops the application's tokens at once and forgets your approval.</p>
${options.notice ? `<p role="status">${escape(options.notice)}</p>` : ''}
${options.grants.length === 0 ? '<p>No application has access.</p>' : `<table><thead><tr><th>Application</th><th>Access</th><th>Since</th><th></th></tr></thead><tbody>\n${rows}\n</tbody></table>`}`,
  );
}

/** Sign-in form of the grants page (local users). */
export function grantsLoginPage(options: { action: string; csrf: string; error?: string }): string {
  return layout(
    'Sign in',
    `<h1>Sign in to manage connected applications</h1>
${options.error ? `<p class="error" role="alert">${escape(options.error)}</p>` : ''}
<form method="post" action="${escape(options.action)}">
${hidden('action', 'login')}${hidden('csrf', options.csrf)}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`,
  );
}

/** A direct error page: used when the client or redirect URI cannot be trusted, so nothing may redirect. */
export function errorPage(title: string, message: string): string {
  return layout(
    title,
    `<h1>${escape(title)}</h1>\n<p class="error">${escape(message)}</p>\n<p>Close this window and try connecting again.</p>`,
  );
}
