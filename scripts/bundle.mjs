// Bundles the server's own modules into build/server/main.js (replacing tsc's entry file there), so `serve` loads a
// few files instead of ~150: module loading was most of the start-up time. Dependencies stay external (they load
// from node_modules as before) and every dynamic import() stays a separate chunk, loaded on first use as before.
// tsc still emits the rest of build/ (typechecked there) for tools that import single modules.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const outdir = 'build/server';
rmSync(`${outdir}/chunks`, { recursive: true, force: true });
await build({
  entryPoints: { main: 'server/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  allowOverwrite: true,
  logLevel: 'warning',
});
