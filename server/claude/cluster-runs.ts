/** A Claude run as every replica sees it. */
export interface ClusterRun {
  /** The executor's run id (what `claude_abort { runId }` names). */
  runId: string;
  /** `Caller.principalId` of the caller the run is for. */
  owner: string;
  /** The replica running it (its presence id). */
  replica: string;
  /** Known once Claude Code names the session (at once when resuming). */
  sessionId?: string;
  /** The task the run works for, when it runs as one. */
  taskId?: string;
  startedAt: string;
}

/**
 * The Claude runs of every replica sharing storage: where each one runs, so `claude_abort` reaches it from any
 * replica, and the cluster-wide limit on how many run at once (CLUSTER_MAX_CONCURRENT_RUNS). server/cluster builds
 * it (run-directory.ts); a single server has none.
 */
export interface RunDirectory {
  /** This replica's id. */
  readonly replica: string;
  /**
   * Records a run starting on this replica and keeps its lease renewed until {@link release}. Resolves `false`, with
   * nothing recorded, when the cluster-wide limit is reached.
   */
  claim(run: Omit<ClusterRun, 'replica' | 'startedAt'>): Promise<boolean>;
  /** Records what became known of a run claimed here (its session). */
  update(run: Pick<ClusterRun, 'runId' | 'owner' | 'sessionId'>): Promise<void>;
  /** Forgets a run claimed here (it ended). */
  release(run: Pick<ClusterRun, 'runId' | 'owner'>): Promise<void>;
  /** The runs of `owner` on the other live replicas. */
  elsewhere(owner: string): Promise<ClusterRun[]>;
  /** Asks the replica running `run` to stop it (interrupt, then kill after RUN_INTERRUPT_GRACE_MS), as claude_abort does there. */
  stop(run: ClusterRun): Promise<void>;
  /** What this replica does when another asks it to stop one of its runs. */
  onStop(handler: (owner: string, runId: string) => void): void;
  /** Runs recorded across the cluster now (runs of a replica that died count until its lease runs out). */
  count(): Promise<number>;
}
