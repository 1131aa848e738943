import type { Tool } from '@modelcontextprotocol/server';
import type { Caller } from './caller.js';
import type { ToolDefinition, ToolProvider } from './tool-provider.js';

/** Whether a caller may use a tool, asked with the tool's access name; and, optionally, what scope would let it. */
export type ToolAccess = ((caller: Caller, toolName: string) => boolean) & {
  scopeNeeded?: (caller: Caller, toolName: string) => string | undefined;
};

/** Distinct tool listings kept (one per access policy: client and scopes); cleared whenever the tools change. */
const MAX_LISTINGS = 1_000;

/**
 * Every provider's tools by exposed name, shared by all server instances, with each caller policy's listing computed
 * once. A session costs no per-tool memory: its instance asks the catalog on every `tools/list` and `tools/call`.
 */
export class ToolCatalog {
  private byName: Map<string, ToolDefinition> | undefined;
  private taskTools: boolean | undefined;
  private readonly listings = new Map<string, Tool[]>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly providers: readonly ToolProvider[],
    private readonly access?: ToolAccess,
  ) {
    for (const provider of providers) {
      provider.onToolsChanged?.(() => {
        this.byName = undefined;
        this.taskTools = undefined;
        this.listings.clear();
        for (const listener of this.listeners) listener();
      });
    }
  }

  /** The tool `name` when `caller` may use it; undefined for unknown and hidden tools alike. */
  find(name: string, caller: Caller): ToolDefinition | undefined {
    const definition = this.definitions().get(name);
    if (!definition || !this.allows(caller, definition)) return undefined;
    return definition;
  }

  /**
   * The scope `caller` lacks for the existing tool `name` when only its scopes hide it (step-up); undefined for
   * tools it may use, unknown tools, and tools its client policy hides.
   */
  scopeNeeded(name: string, caller: Caller): string | undefined {
    const definition = this.definitions().get(name);
    if (!definition || this.allows(caller, definition)) return undefined;
    return this.access?.scopeNeeded?.(caller, definition.accessName ?? definition.tool.name);
  }

  /**
   * What `tools/list` shows `caller`: the tools its scopes and client policy let through. With `taskSupport` (a
   * 2025-era instance offering tasks) each tool that may run as a task says so (`execution.taskSupport`).
   */
  listFor(caller: Caller, taskSupport = false): Tool[] {
    const key = `${policyKey(caller)}\n${taskSupport ? 'tasks' : ''}`;
    let listing = this.listings.get(key);
    if (!listing) {
      listing = [...this.definitions().values()]
        .filter((definition) => this.allows(caller, definition))
        .map((definition) =>
          taskSupport && definition.taskSupport
            ? { ...definition.tool, execution: { taskSupport: definition.taskSupport } }
            : definition.tool,
        );
      if (this.listings.size >= MAX_LISTINGS) this.listings.clear();
      this.listings.set(key, listing);
    }
    return listing;
  }

  /**
   * Whether any tool may run as a task (has `taskSupport`): an instance declares tasks only then, so an endpoint
   * serving one upstream offers them exactly when that upstream runs tasks.
   */
  offersTasks(): boolean {
    this.taskTools ??= [...this.definitions().values()].some((definition) => definition.taskSupport !== undefined);
    return this.taskTools;
  }

  /** Calls `listener` after any provider's tools changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private allows(caller: Caller, definition: ToolDefinition): boolean {
    return !this.access || this.access(caller, definition.accessName ?? definition.tool.name);
  }

  /** Providers in order; a later provider's tool never replaces an earlier one of the same name. */
  private definitions(): Map<string, ToolDefinition> {
    if (!this.byName) {
      this.byName = new Map();
      for (const provider of this.providers) {
        for (const definition of provider.tools())
          if (!this.byName.has(definition.tool.name)) this.byName.set(definition.tool.name, definition);
      }
    }
    return this.byName;
  }
}

/** Callers with the same client and scopes see the same tools (the access rules read nothing else). */
function policyKey(caller: Caller): string {
  return `${caller.oauthClientId ?? caller.principalId}\n${caller.scopes.join(' ')}`;
}
