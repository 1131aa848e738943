import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createWorkspacePolicy } from '../../../server/claude/workspace.js';

describe('createWorkspacePolicy', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeAll(() => {
    base = realpathSync(mkdtempSync(path.join(tmpdir(), 'ccm-ws-')));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    mkdirSync(path.join(root, 'app', 'src'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(root, 'file.txt'), 'x');
    symlinkSync(outside, path.join(root, 'escape'));
    symlinkSync(path.join(root, 'app'), path.join(root, 'alias'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('resolves relative and absolute directories inside a root, following symlinks that stay inside', () => {
    const policy = createWorkspacePolicy({ roots: [root], perClient: false });
    expect(policy.resolve('c')).toBe(root);
    expect(policy.resolve('c', 'app/src')).toBe(path.join(root, 'app', 'src'));
    expect(policy.resolve('c', path.join(root, 'app'))).toBe(path.join(root, 'app'));
    expect(policy.resolve('c', 'alias')).toBe(path.join(root, 'app'));
  });

  it('refuses escapes: .., absolute paths outside, symlinks pointing out, and a sibling sharing the prefix', () => {
    mkdirSync(`${root}-sibling`, { recursive: true });
    const policy = createWorkspacePolicy({ roots: [root], perClient: false });
    for (const requested of ['..', '/etc', outside, 'escape', `${root}-sibling`, 'app/../../outside']) {
      expect(() => policy.resolve('c', requested)).toThrow(expect.objectContaining({ category: 'workspace_denied' }));
    }
  });

  it('reports missing directories and files as invalid_input', () => {
    const policy = createWorkspacePolicy({ roots: [root], perClient: false });
    expect(() => policy.resolve('c', 'nope')).toThrow(expect.objectContaining({ category: 'invalid_input' }));
    expect(() => policy.resolve('c', 'file.txt')).toThrow(expect.objectContaining({ category: 'invalid_input' }));
  });

  it('gives each client its own folder with PER_CLIENT_WORKSPACES and keeps it there', () => {
    const policy = createWorkspacePolicy({ roots: [root], perClient: true, defaultDirectory: path.join(root, 'app') });
    expect(policy.resolve('client/../a')).toBe(path.join(root, 'app', 'client_.._a'));
    expect(() => policy.resolve('alice', path.join(root, 'app', 'src'))).toThrow(expect.objectContaining({ category: 'workspace_denied' }));
  });

  it('refuses at startup a root that contains DATA_DIR (Claude could read the server database)', () => {
    mkdirSync(path.join(root, 'data'), { recursive: true });
    expect(() => createWorkspacePolicy({ roots: [root], perClient: false, protectedDirectory: path.join(root, 'data') })).toThrow(
      /contains DATA_DIR/,
    );
    expect(() =>
      createWorkspacePolicy({ roots: [path.join(root, 'app')], perClient: false, protectedDirectory: path.join(root, 'data') }),
    ).not.toThrow();
  });

  it('creates the default root when asked', () => {
    const created = path.join(base, 'fresh-workspace');
    expect(createWorkspacePolicy({ roots: [created], perClient: false, createRoots: true }).roots).toEqual([created]);
  });

  it('fails at startup naming the setting when a root or the default directory is wrong', () => {
    expect(() => createWorkspacePolicy({ roots: [path.join(base, 'missing')], perClient: false })).toThrow(/WORKSPACE_ROOTS/);
    expect(() => createWorkspacePolicy({ roots: [root], perClient: false, defaultDirectory: outside })).toThrow(
      /DEFAULT_WORKING_DIRECTORY/,
    );
  });
});
