import { describe, expect, it } from '@jest/globals';
import { applyPolicy, type RunPolicy } from '../../../server/claude/policy.js';

const policy: RunPolicy = {
  maxPermissionMode: 'acceptEdits',
  disallowedTools: ['WebFetch', 'Bash'],
  defaultAllowedTools: ['Read', 'Grep'],
  maxBudgetUsd: 2,
  maxTurns: 10,
};

describe('applyPolicy', () => {
  it('uses the defaults when the caller asks for nothing', () => {
    expect(applyPolicy(policy, {})).toEqual({
      permissionMode: 'default',
      allowedTools: ['Read', 'Grep'],
      disallowedTools: ['WebFetch', 'Bash'],
      maxTurns: 10,
      maxBudgetUsd: 2,
    });
  });

  it('refuses a permission mode above the ceiling instead of lowering it silently', () => {
    expect(() => applyPolicy(policy, { permissionMode: 'bypassPermissions' })).toThrow(
      expect.objectContaining({ category: 'permission_denied' }),
    );
    expect(applyPolicy(policy, { permissionMode: 'plan' }).permissionMode).toBe('plan');
    expect(applyPolicy(policy, { permissionMode: 'acceptEdits' }).permissionMode).toBe('acceptEdits');
  });

  it('never allows an operator-disallowed tool, even in a narrowed form, and keeps caller disallows', () => {
    const limits = applyPolicy(policy, { allowedTools: ['Write', 'Bash(git *)', 'WebFetch'], disallowedTools: ['Edit'] });
    expect(limits.allowedTools).toEqual(['Write']);
    expect(limits.disallowedTools).toEqual(['WebFetch', 'Bash', 'Edit']);
  });

  it('clamps turns and budget to the ceilings', () => {
    const limits = applyPolicy(policy, { maxTurns: 500, maxBudgetUsd: 100 });
    expect(limits).toMatchObject({ maxTurns: 10, maxBudgetUsd: 2 });
    expect(applyPolicy(policy, { maxTurns: 3, maxBudgetUsd: 0.5 })).toMatchObject({ maxTurns: 3, maxBudgetUsd: 0.5 });
  });

  it('falls back to the ceiling when the default mode is above it', () => {
    expect(applyPolicy({ ...policy, maxPermissionMode: 'plan' }, {}).permissionMode).toBe('plan');
  });

  it('without the right to execute, refuses code-executing tools a caller names and withholds them from the run', () => {
    const open: RunPolicy = { ...policy, disallowedTools: [], defaultAllowedTools: ['Read', 'Bash'] };
    for (const tool of ['Bash', 'Bash(ls *)', 'Monitor', 'PowerShell', 'Workflow']) {
      expect(() => applyPolicy(open, { allowedTools: ['Read', tool] }, { mayExecute: false })).toThrow(
        expect.objectContaining({ category: 'permission_denied', message: expect.stringContaining('claude:exec') }),
      );
    }
    // An operator default that includes Bash is narrowed silently: the caller asked for nothing.
    const limits = applyPolicy(open, {}, { mayExecute: false });
    expect(limits.allowedTools).toEqual(['Read']);
    expect(limits.disallowedTools).toEqual(['Bash', 'Monitor', 'PowerShell', 'Workflow']);
    expect(applyPolicy(open, { allowedTools: ['Bash'] }, { mayExecute: true })).toMatchObject({
      allowedTools: ['Bash'],
      disallowedTools: [],
    });
  });
});
