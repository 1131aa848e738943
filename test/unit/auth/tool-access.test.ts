import { describe, expect, it } from '@jest/globals';
import { createToolAccess, requiredScopeForTool } from '../../../server/auth/tool-access.js';
import type { Caller } from '../../../server/mcp/caller.js';

const caller = (scopes: string[], clientId = 'c'): Caller => ({ principalId: clientId, scopes, method: 'oauth' });

describe('tool access', () => {
  it('maps tools to scopes', () => {
    expect(requiredScopeForTool('server_status')).toBe('mcp:tools');
    expect(requiredScopeForTool('claude_ask')).toBe('claude:ask');
    expect(requiredScopeForTool('claude_plan')).toBe('claude:plan');
    expect(requiredScopeForTool('claude_plugin_install')).toBe('claude:admin');
    expect(requiredScopeForTool('github__create_issue')).toBe('gateway:github');
  });

  it('honours the scope hierarchy and allow/deny globs, client policies on top of *', () => {
    const access = createToolAccess({ '*': { deny: ['danger_*'] }, c: { allow: ['claude_*', 'server_status'] } });
    expect(access(caller(['claude:admin']), 'claude_ask')).toBe(true);
    expect(access(caller(['claude:admin']), 'claude_plan')).toBe(true);
    expect(access(caller(['claude:ask']), 'claude_plan')).toBe(false);
    expect(access(caller(['claude:ask']), 'claude_plugin_install')).toBe(false);
    expect(access(caller(['gateway:*']), 'github__x')).toBe(false); // client c only allows claude_* and server_status
    expect(access(caller(['gateway:*'], 'd'), 'github__x')).toBe(true);
    expect(access(caller(['gateway:gitlab'], 'd'), 'github__x')).toBe(false);
    expect(access(caller(['*'], 'd'), 'danger_zone')).toBe(false);
    expect(access(caller(['mcp:tools']), 'server_status')).toBe(true);
  });
});
