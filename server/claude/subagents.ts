import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A subagent definition found on disk. */
export interface SubagentInfo {
  name: string;
  /** `project`, `user`, or `plugin:<plugin id>`. */
  source: string;
  description: string;
  tools: string[];
  model?: string;
  path: string;
}

/**
 * Reads the `*.md` subagent definitions of one `agents` directory. The YAML frontmatter of these files is flat
 * (`name`, `description`, `tools`, `model`), so a line parser is enough; files without a name are skipped.
 */
export function readAgentsDirectory(directory: string, source: string): SubagentInfo[] {
  let files: string[];
  try {
    files = readdirSync(directory)
      .filter((file) => file.endsWith('.md'))
      .sort();
  } catch {
    return [];
  }
  const agents: SubagentInfo[] = [];
  for (const file of files) {
    const full = path.join(directory, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch {
      continue;
    }
    const front = frontmatter(text);
    const name = front.name ?? path.basename(file, '.md');
    if (!name) continue;
    agents.push({
      name,
      source,
      description: front.description ?? '',
      tools: (front.tools ?? '')
        .split(',')
        .map((tool) => tool.trim())
        .filter(Boolean),
      ...(front.model ? { model: front.model } : {}),
      path: full,
    });
  }
  return agents;
}

function frontmatter(text: string): Record<string, string> {
  const match = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text);
  if (!match) return {};
  const fields: Record<string, string> = {};
  for (const line of match[1]!.split(/\r?\n/)) {
    const pair = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (!pair) continue;
    let value = pair[2]!.trim();
    if (/^\[.*\]$/.test(value)) value = value.slice(1, -1);
    fields[pair[1]!] = value.replace(/^["']|["']$/g, '');
  }
  return fields;
}
