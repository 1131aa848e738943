import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { ToolDefinition } from '../mcp/tool-provider.js';
import { parseCliJson, runClaudeCli } from './claude-cli.js';
import { ClaudeError } from './errors.js';
import { readAgentsDirectory, type SubagentInfo } from './subagents.js';
import type { createToolHandler } from './tool-handler.js';
import type { WorkspacePolicy } from './workspace.js';

/** What the catalogue tools need. */
export interface CatalogDeps {
  workspaces: WorkspacePolicy;
  /** The child environment (its HOME holds user agents and plugins). */
  env: Readonly<Record<string, string>>;
  /** The `claude` executable for plugin subcommands; undefined -> the tools answer `cli_not_found`. */
  executable: () => string | undefined;
  claudeTool: ReturnType<typeof createToolHandler>;
}

interface CliPlugin {
  id: string;
  version?: string;
  scope?: string;
  enabled?: boolean;
  installPath?: string;
}

const name = /^[A-Za-z0-9._-]{1,100}$/;
const subagentInput = z.object({
  workingDirectory: z.string().min(1).max(4096).optional().describe('Project whose .claude/agents to include.'),
});
const pluginListInput = z.object({
  workingDirectory: z.string().min(1).max(4096).optional().describe('Project whose project-scoped plugins to include.'),
});
const pluginInstallInput = z.object({
  plugin: z.string().regex(/^[A-Za-z0-9._-]{1,100}(@[A-Za-z0-9._-]{1,100})?$/, { error: 'expected plugin or plugin@marketplace' }),
  scope: z.enum(['user', 'project']).describe('user: every project of this server; project: the working directory only.'),
  marketplace: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe('Marketplace name, or a marketplace directory inside a workspace root (added first).'),
  workingDirectory: z.string().min(1).max(4096).optional().describe('The project for scope project (default working directory otherwise).'),
});

const subagentSchema = z.object({
  name: z.string(),
  source: z.string(),
  description: z.string(),
  tools: z.array(z.string()),
  model: z.string().optional(),
});
const pluginSchema = z.object({
  id: z.string(),
  version: z.string().optional(),
  scope: z.string().optional(),
  enabled: z.boolean().optional(),
});

/** claude_subagent_list, claude_plugin_list and claude_plugin_install. */
export function catalogTools(deps: CatalogDeps): ToolDefinition[] {
  const { workspaces, env, claudeTool } = deps;
  const cli = (args: string[], cwd: string) => {
    const executable = deps.executable();
    if (!executable) throw new ClaudeError('cli_not_found', 'the Claude Code CLI is not available on this server');
    return runClaudeCli(args, { executable, cwd, env });
  };
  const installed = async (cwd: string) => parseCliJson<CliPlugin[]>(await cli(['plugin', 'list', '--json'], cwd));
  const tools: ToolDefinition[] = [];

  tools.push(
    claudeTool(
      'claude_subagent_list',
      {
        title: 'List Claude Code subagents',
        description:
          'Subagents available to runs: project (.claude/agents), user (~/.claude/agents) and installed plugins, with description, tools and model.',
        input: subagentInput,
        output: z.object({ subagents: z.array(subagentSchema) }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      async (args, { caller }) => {
        const cwd = workspaces.resolve(caller.principalId, args.workingDirectory);
        const found: SubagentInfo[] = [...readAgentsDirectory(path.join(cwd, '.claude', 'agents'), 'project')];
        if (env.HOME) found.push(...readAgentsDirectory(path.join(env.HOME, '.claude', 'agents'), 'user'));
        const plugins = deps.executable() ? await installed(cwd).catch(() => [] as CliPlugin[]) : [];
        for (const plugin of plugins) {
          if (plugin.enabled === false || !plugin.installPath) continue;
          found.push(...readAgentsDirectory(path.join(plugin.installPath, 'agents'), `plugin:${plugin.id}`));
        }
        const subagents = found.map(({ path: _path, ...rest }) => rest);
        const text = subagents.length === 0 ? 'no subagents' : subagents.map((a) => `${a.name} (${a.source}): ${a.description}`).join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { subagents } };
      },
    ),
  );

  tools.push(
    claudeTool(
      'claude_plugin_list',
      {
        title: 'List Claude Code plugins',
        description: 'Plugins installed for Claude Code on this server (user scope, and project scope of the working directory).',
        input: pluginListInput,
        output: z.object({ plugins: z.array(pluginSchema) }),
        annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
      },
      async (args, { caller }) => {
        const cwd = workspaces.resolve(caller.principalId, args.workingDirectory);
        const plugins = (await installed(cwd)).map((p) => ({
          id: p.id,
          ...(p.version ? { version: p.version } : {}),
          ...(p.scope ? { scope: p.scope } : {}),
          ...(p.enabled !== undefined ? { enabled: p.enabled } : {}),
        }));
        const text =
          plugins.length === 0 ? 'no plugins installed' : plugins.map((p) => `${p.id} ${p.version ?? ''} (${p.scope})`).join('\n');
        return { content: [{ type: 'text', text }], structuredContent: { plugins } };
      },
    ),
  );

  tools.push(
    claudeTool(
      'claude_plugin_install',
      {
        title: 'Install a Claude Code plugin',
        description:
          'Installs a plugin (plugin or plugin@marketplace) for every run of this server (scope user) or one project (scope project). ' +
          'marketplace may name a known marketplace or a marketplace directory inside a workspace root. Needs the claude:admin scope.',
        input: pluginInstallInput,
        output: z.object({ pluginId: z.string(), scope: z.string(), message: z.string() }),
        annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: true },
      },
      async (args, { caller }) => {
        const cwd = workspaces.resolve(caller.principalId, args.workingDirectory);
        let spec = args.plugin;
        if (args.marketplace) {
          let marketName = args.marketplace;
          if (!name.test(args.marketplace)) {
            // A directory: it must lie inside a workspace root like any other path a caller names.
            const directory = workspaces.resolve(caller.principalId, args.marketplace);
            marketName = marketplaceName(directory);
            await cli(['plugin', 'marketplace', 'add', directory], cwd);
          }
          spec = `${args.plugin.split('@')[0]}@${marketName}`;
        }
        const result = parseCliJson<{ outcome?: string; pluginId?: string; scope?: string; message?: string }>(
          await cli(['plugin', 'install', spec, '-s', args.scope, '--json'], cwd),
        );
        if (result.outcome && result.outcome !== 'ok') throw new ClaudeError('internal', result.message ?? `install of ${spec} failed`);
        const structuredContent = {
          pluginId: result.pluginId ?? spec,
          scope: result.scope ?? args.scope,
          message: result.message ?? 'installed',
        };
        return { content: [{ type: 'text', text: structuredContent.message }], structuredContent };
      },
    ),
  );
  return tools;
}

function marketplaceName(directory: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.join(directory, '.claude-plugin', 'marketplace.json'), 'utf8')) as { name?: unknown };
    if (typeof manifest.name === 'string' && name.test(manifest.name)) return manifest.name;
  } catch {
    // fall through
  }
  throw new ClaudeError('invalid_input', 'marketplace: no valid .claude-plugin/marketplace.json in that directory');
}
