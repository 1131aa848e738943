import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createNpmRootShim } from '../../../server/claude/npm-root-shim.js';

const PATH = process.env.PATH ?? '/usr/bin:/bin';
const npm = (args: string[], searchPath: string) =>
  execFileSync('npm', args, { env: { PATH: searchPath, HOME: process.env.HOME ?? '/tmp' }, encoding: 'utf8' });

describe('createNpmRootShim', () => {
  it('answers `npm root -g` exactly as the real npm does, and hands everything else to it', async () => {
    const shim = await createNpmRootShim(PATH);
    expect(shim).toBeDefined();
    try {
      const shimmed = `${shim!.dir}${path.delimiter}${PATH}`;
      expect(npm(['root', '-g'], shimmed)).toBe(npm(['root', '-g'], PATH));
      expect(npm(['--version'], shimmed)).toBe(npm(['--version'], PATH));
      expect(npm(['root'], shimmed)).toBe(npm(['root'], PATH));
      expect(npm(['config', 'get', 'prefix', '-g'], shimmed)).toBe(npm(['config', 'get', 'prefix', '-g'], PATH));
    } finally {
      shim!.remove();
    }
    expect(existsSync(shim!.dir)).toBe(false);
  });

  it('is not made where there is no npm', async () => {
    expect(await createNpmRootShim('/nonexistent')).toBeUndefined();
  });
});
