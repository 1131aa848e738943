import { mkdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ClaudeError } from './errors.js';

/** Options of {@link createWorkspacePolicy}. */
export interface WorkspacePolicyOptions {
  /** WORKSPACE_ROOTS; each must exist. Relative ones resolve against the server's working directory. */
  roots: readonly string[];
  /** DEFAULT_WORKING_DIRECTORY; the first root when absent. Must lie inside a root. */
  defaultDirectory?: string;
  /** PER_CLIENT_WORKSPACES: default directories become `<default>/<principalId>`. */
  perClient: boolean;
  /**
   * DATA_DIR: no root may contain it, or Claude's file tools could read the server's database (signing keys,
   * tokens). Checked at startup.
   */
  protectedDirectory?: string;
  /** Create missing roots (the built-in default root only). */
  createRoots?: boolean;
}

/** Decides where a run may work. */
export interface WorkspacePolicy {
  /** The real paths of the roots. */
  readonly roots: readonly string[];
  /**
   * The real path a run of `principalId` works in: `requested` (absolute, or relative to the client's default
   * directory) when it resolves inside a root, else `workspace_denied`. Symlinks are followed before the check, so
   * a link pointing outside every root is refused. A missing directory is `invalid_input`.
   */
  resolve(principalId: string, requested?: string): string;
}

/** Validates the roots once (they must exist) and returns the policy. Throws a plain Error naming the setting. */
export function createWorkspacePolicy(options: WorkspacePolicyOptions): WorkspacePolicy {
  const roots = options.roots.map((root) => {
    if (options.createRoots) mkdirSync(path.resolve(root), { recursive: true });
    try {
      return realpathSync(path.resolve(root));
    } catch {
      throw new Error(`WORKSPACE_ROOTS: ${root} does not exist`);
    }
  });
  if (roots.length === 0) throw new Error('WORKSPACE_ROOTS: at least one directory is required');
  if (options.protectedDirectory) {
    let dataDir: string | undefined;
    try {
      dataDir = realpathSync(path.resolve(options.protectedDirectory));
    } catch {
      dataDir = undefined;
    }
    const exposing = dataDir && roots.find((root) => dataDir === root || dataDir.startsWith(root + path.sep));
    if (exposing) {
      throw new Error(
        `WORKSPACE_ROOTS: ${exposing} contains DATA_DIR (${dataDir}); Claude could read the server's keys and tokens. ` +
          'Use a workspace root that does not contain DATA_DIR, or move DATA_DIR.',
      );
    }
  }
  const inside = (real: string) => roots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
  let defaultDirectory = roots[0]!;
  if (options.defaultDirectory) {
    let real: string;
    try {
      real = realpathSync(path.resolve(options.defaultDirectory));
    } catch {
      throw new Error(`DEFAULT_WORKING_DIRECTORY: ${options.defaultDirectory} does not exist`);
    }
    if (!inside(real)) throw new Error(`DEFAULT_WORKING_DIRECTORY: ${options.defaultDirectory} is outside WORKSPACE_ROOTS`);
    defaultDirectory = real;
  }

  const clientDefault = (principalId: string): string => {
    if (!options.perClient) return defaultDirectory;
    // Client ids come from our own auth layer, but keep the folder name to a safe alphabet anyway.
    const folder = path.join(defaultDirectory, principalId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_'));
    mkdirSync(folder, { recursive: true });
    return folder;
  };

  return {
    roots,
    resolve(principalId, requested) {
      const base = clientDefault(principalId);
      if (requested === undefined || requested === '') return base;
      if (requested.includes('\0')) throw new ClaudeError('invalid_input', 'workingDirectory: contains a NUL byte');
      const candidate = path.resolve(base, requested);
      let real: string;
      try {
        real = realpathSync(candidate);
      } catch {
        // Do not reveal whether a path outside the roots exists.
        if (!inside(path.normalize(candidate)))
          throw new ClaudeError('workspace_denied', `workingDirectory: ${requested} is outside the allowed workspaces`);
        throw new ClaudeError('invalid_input', `workingDirectory: ${requested} does not exist`);
      }
      if (!inside(real)) throw new ClaudeError('workspace_denied', `workingDirectory: ${requested} is outside the allowed workspaces`);
      if (!statSync(real).isDirectory()) throw new ClaudeError('invalid_input', `workingDirectory: ${requested} is not a directory`);
      if (options.perClient && !(real === base || real.startsWith(base + path.sep))) {
        throw new ClaudeError('workspace_denied', `workingDirectory: ${requested} is outside your workspace`);
      }
      return real;
    },
  };
}
