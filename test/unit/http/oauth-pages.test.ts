import { describe, expect, it } from '@jest/globals';
import { consentPage, loginPage } from '../../../server/http/routes/oauth/pages.js';

const base = {
  host: 'mcp.example.com',
  action: '/oauth/consent',
  interactionId: 'i1',
  csrf: 'c1',
  subject: 'alice',
  clientName: 'Claude',
  unverified: true,
  redirectHost: 'claude.ai',
  loopbackRedirect: false,
  resource: 'https://mcp.example.com/mcp',
};

describe('sign-in and consent pages', () => {
  it('name the host the person is signing in to', () => {
    const login = loginPage({ host: 'mcp.example.com', action: '/oauth/login', interactionId: 'i1', csrf: 'c1', clientName: 'Cursor' });
    expect(login).toContain('<h1>Sign in to mcp.example.com</h1>');
    expect(consentPage({ ...base, scopes: ['mcp:tools'] })).toContain(
      'Signed in to <strong>mcp.example.com</strong> as <strong>alice</strong>',
    );
  });

  it('explain every scope in words, with the code beside it, and warn about the powerful ones', () => {
    const page = consentPage({
      ...base,
      scopes: ['mcp:tools', 'claude:ask', 'claude:plan', 'claude:exec', 'claude:admin', 'gateway:*', 'gateway:github', 'offline_access'],
    });
    expect(page).toContain('Connect to this server and see the tools you may use. <code>mcp:tools</code>');
    expect(page).toContain('Run Claude Code on your behalf in your workspace');
    expect(page).toContain('Use the tools of the MCP server &quot;github&quot;. <code>gateway:github</code>');
    expect(page).toContain('Stay connected');
    const warnings = [...page.matchAll(/class="scope-warning"/g)];
    expect(warnings).toHaveLength(2);
    expect(page).toMatch(
      /run commands and programs[^<]*<code>claude:exec<\/code><strong class="scope-warning" role="note">⚠ Commands run inside the sandbox/,
    );
    expect(page).toMatch(/install plugins for everyone\.[^<]*<code>claude:admin<\/code><strong class="scope-warning"/);
    expect(consentPage({ ...base, scopes: ['mcp:tools', 'claude:ask'] })).not.toContain('class="scope-warning"');
  });

  it('escape what a client registered about itself', () => {
    const page = consentPage({ ...base, clientName: '<script>x</script>', scopes: ['gateway:a<b'] });
    expect(page).not.toContain('<script>x');
    expect(page).toContain('&lt;script&gt;');
  });
});
