import { readFileSync, writeFileSync } from 'node:fs';
import { gatewayJsonSchema } from '../server/gateway/config.js';

/** Writes mcp_config.schema.json from the gateway's zod schema; `--check` fails when the published file is stale. */
const file = 'mcp_config.schema.json';
const text = `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    process.stderr.write(`${file} is stale: run npm run docs:config\n`);
    process.exit(1);
  }
} else {
  writeFileSync(file, text);
}
