import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createRunIsolation, hostMatches, probeSandbox, sandboxWarnings } from '../../../server/claude/sandbox.js';

describe('createRunIsolation', () => {
  let root: string;
  let server: string;
  let workspace: string;
  beforeAll(() => {
    root = realpathSync(mkdtempSync(path.join(tmpdir(), 'isolation-')));
    server = path.join(root, 'server');
    workspace = path.join(server, 'workspace', 'alice');
    mkdirSync(workspace, { recursive: true });
    mkdirSync(path.join(root, 'data'));
    mkdirSync(path.join(root, 'tools'));
    symlinkSync(path.join(root, 'data'), path.join(root, 'data-link'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  let run: { cwd: string; additionalDirectories: string[]; tmpDir: string };
  beforeAll(() => {
    run = { cwd: workspace, additionalDirectories: [], tmpDir: path.join(root, 'tmp') };
  });

  it('confines the file tools in every mode, with the server paths excluded in both spellings', () => {
    for (const mode of ['required', 'off'] as const) {
      const options = createRunIsolation({
        mode,
        allowedDomains: [],
        readPaths: [],
        protectedPaths: [server, path.join(root, 'data-link')],
      }).optionsFor(run);
      const permissions = options.settings.permissions as Record<string, unknown>;
      expect(permissions).toMatchObject({
        blockReadsOutsideWorkingDirectories: true,
        blockWritesOutsideWorkingDirectories: true,
        disableBypassPermissionsMode: 'disable',
        deny: ['WebFetch'],
      });
      expect(permissions.workingDirectoriesExclude).toEqual(
        expect.arrayContaining([server, path.join(root, 'data-link'), path.join(root, 'data')]),
      );
      expect(options.strictMcpConfig).toBe(true);
    }
  });

  it('sandboxes commands only when required: no network but the allow-list, reads of the run folders and system folders', () => {
    const off = createRunIsolation({ mode: 'off', allowedDomains: [], readPaths: [], protectedPaths: [] }).optionsFor(run);
    expect(off.sandbox).toBeUndefined();
    const on = createRunIsolation({
      mode: 'required',
      allowedDomains: ['*.npmjs.org'],
      readPaths: [path.join(root, 'tools')],
      protectedPaths: [server],
    }).optionsFor(run);
    expect(on.sandbox).toMatchObject({
      enabled: true,
      failIfUnavailable: true,
      allowUnsandboxedCommands: false,
      network: { allowedDomains: ['*.npmjs.org'], strictAllowlist: true },
    });
    expect(on.sandbox?.filesystem?.allowRead).toEqual(expect.arrayContaining([workspace, run.tmpDir, '/usr', path.join(root, 'tools')]));
    // A protected folder around the working directory would hide the workspace itself: "/" already hides it.
    expect(on.sandbox?.filesystem?.denyRead?.[0]).toBe('/');
    expect(on.sandbox?.filesystem?.denyRead).not.toContain(server);
    expect(on.sandbox?.filesystem?.denyWrite).not.toContain(server);
    expect(on.sandbox?.credentials?.envVars?.map((v) => v.name)).toContain('ANTHROPIC_API_KEY');
    // With hosts to reach, WebFetch is not denied outright but guarded by host.
    expect((on.settings.permissions as { deny?: string[] }).deny).toBeUndefined();
    expect(on.hooks?.PreToolUse?.[0]?.matcher).toBe('WebFetch');
  });

  it('keeps protected paths inside an allowed folder unreadable and unwritable for commands', () => {
    const secret = path.join(workspace, '.env');
    const options = createRunIsolation({
      mode: 'required',
      allowedDomains: [],
      readPaths: [],
      protectedPaths: [secret, '/etc/claude-mcp'],
    }).optionsFor({ ...run, cwd: workspace });
    // The file does not exist yet, so it is not listed; a protected path that exists is.
    expect(options.sandbox?.filesystem?.denyRead).not.toContain(secret);
    mkdirSync(secret);
    const again = createRunIsolation({ mode: 'required', allowedDomains: [], readPaths: [], protectedPaths: [secret] }).optionsFor(run);
    expect(again.sandbox?.filesystem?.denyRead).toContain(secret);
    expect(again.sandbox?.filesystem?.denyWrite).toContain(secret);
    rmSync(secret, { recursive: true });
  });
});

describe('hostMatches', () => {
  it('matches a host exactly, and a wildcard only below its domain', () => {
    expect(hostMatches('docs.example.com', 'docs.example.com')).toBe(true);
    expect(hostMatches('docs.example.com', 'DOCS.example.com')).toBe(true);
    expect(hostMatches('docs.example.com.evil.test', 'docs.example.com')).toBe(false);
    expect(hostMatches('a.b.example.com', '*.example.com')).toBe(true);
    expect(hostMatches('example.com', '*.example.com')).toBe(false);
    expect(hostMatches('badexample.com', '*.example.com')).toBe(false);
  });
});

describe('probeSandbox', () => {
  it('is ready when off, without looking', async () => {
    expect(await probeSandbox({ mode: 'off', searchPath: '' })).toEqual({ mode: 'off', ready: true });
  });

  it('names what is missing', async () => {
    const status = await probeSandbox({ mode: 'required', searchPath: '/nonexistent' });
    expect(status).toMatchObject({ mode: 'required', ready: false });
    expect(status.problem).toMatch(/bubblewrap \(bwrap\) and socat not found/);
    expect(sandboxWarnings(status)[0]).toContain('sandbox_unavailable');
    expect((await probeSandbox({ mode: 'required', searchPath: '', platform: 'win32' })).problem).toContain('win32');
  });

  it('creates a real sandbox with bubblewrap when it is installed', async () => {
    const status = await probeSandbox({ mode: 'required', searchPath: process.env.PATH ?? '' });
    expect(status).toMatchObject({
      ready: true,
      programs: { bwrap: expect.stringContaining('bwrap'), socat: expect.stringContaining('socat') },
    });
    expect(sandboxWarnings(status)).toEqual([]);
  });
});
