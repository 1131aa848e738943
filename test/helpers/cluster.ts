import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandbox, runCli, track, type Sandbox } from './cli-process.js';
import { deleteRedisKeys, REDIS_URL } from './redis.js';
import { killServers, signalServer, startServer, type ServerProcess } from './server-process.js';

/** Where Debian puts haproxy (root's PATH has it, a user's may not). */
export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((candidate) => existsSync(candidate));

/** The person who signs in through the cluster. */
export const CLUSTER_USER = { username: 'alice', password: 'correct horse battery' };

/** Replicas of the real server on one Redis, behind haproxy round-robin without stickiness. */
export interface TestCluster {
  /** The load balancer: the one URL clients know (also every replica's BASE_URL). */
  url: string;
  mcpUrl: string;
  replicas: ServerProcess[];
  /** The replicas' sandboxes (HOME, DATA_DIR), in order. */
  sandboxes: Sandbox[];
  /** Redis key prefix of this cluster. */
  prefix: string;
  /** Lines of each replica's log (JSON) whose `path` is `pathname`: who served what. */
  served(pathname: string | RegExp): number[];
  /** kill -9 of replica `index` (and what it started). */
  kill(index: number): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  replicas?: number;
  /** Environment of every replica on top of the cluster's own. */
  env?: Record<string, string | undefined>;
  /** Environment of one replica (by index) on top of `env`. */
  envOf?: (index: number) => Record<string, string | undefined>;
}

/** A TCP port free now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * haproxy's configuration: HTTP mode, every request balanced on its own (round-robin, no affinity, not even the
 * last server of a kept-alive connection), long-lived streams allowed, a replica that stops answering its readiness
 * check taken out within a second and a refused connection tried again on another.
 */
export function haproxyConfig(port: number, backends: readonly number[]): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 120s',
    '  timeout server 120s',
    '  timeout tunnel 120s',
    '  retries 2',
    '  option redispatch',
    '  retry-on conn-failure empty-response',
    'frontend mcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    '  option httpchk',
    // A replica bound to loopback answers only Host names it knows (DNS-rebinding protection).
    '  http-check send meth GET uri /health ver HTTP/1.1 hdr Host 127.0.0.1',
    '  http-reuse never',
    ...backends.map((backend, index) => `  server replica${index + 1} 127.0.0.1:${backend} check inter 300 fall 2 rise 1`),
    '',
  ].join('\n');
}

/**
 * Starts Redis-backed replicas of the compiled server (each its own HOME and DATA_DIR, OAuth on, BASE_URL the load
 * balancer) and haproxy in front; registers {@link CLUSTER_USER}.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const count = options.replicas ?? 2;
  const prefix = `ccm-cluster:${randomUUID()}:`;
  const lbPort = await freePort();
  const url = `http://127.0.0.1:${lbPort}`;
  const shared = {
    STORAGE: 'redis',
    REDIS_URL,
    REDIS_KEY_PREFIX: prefix,
    AUTH_MODE: 'oauth',
    AUTH_INITIAL_ADMIN: 'false',
    BASE_URL: url,
    ...options.env,
  };
  const sandboxes = Array.from({ length: count }, () => createSandbox());
  const add = await runCli(['users', 'add', CLUSTER_USER.username, '--password', CLUSTER_USER.password], {
    env: sandboxes[0]!.env(shared),
    cwd: sandboxes[0]!.cwd,
  });
  if (add.code !== 0) throw new Error(`users add failed: ${add.stderr}`);
  const replicas: ServerProcess[] = [];
  for (let index = 0; index < count; index += 1)
    replicas.push(await startServer(sandboxes[index]!, { ...shared, ...options.envOf?.(index) }));
  const dir = mkdtempSync(path.join(tmpdir(), 'ccm-haproxy-'));
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    haproxyConfig(
      lbPort,
      replicas.map((replica) => Number(new URL(replica.url).port)),
    ),
  );
  const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its configuration: ${check.stderr}${check.stdout}`);
  const haproxy: ChildProcess = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(haproxy.pid!);
  let haproxyOutput = '';
  haproxy.stdout!.on('data', (chunk: Buffer) => (haproxyOutput += chunk.toString()));
  haproxy.stderr!.on('data', (chunk: Buffer) => (haproxyOutput += chunk.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline || haproxy.exitCode !== null) throw new Error(`haproxy did not serve: ${haproxyOutput}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    url,
    mcpUrl: `${url}/mcp`,
    replicas,
    sandboxes,
    prefix,
    served(pathname) {
      return replicas.map(
        (replica) =>
          replica.cli
            .logLines()
            .filter(
              (line) =>
                line.message === 'request' && (typeof pathname === 'string' ? line.path === pathname : pathname.test(String(line.path))),
            ).length,
      );
    },
    async kill(index) {
      await signalServer(replicas[index]!, 'SIGKILL');
    },
    async stop() {
      if (haproxy.exitCode === null && haproxy.signalCode === null) {
        const closed = new Promise((resolve) => haproxy.once('close', resolve));
        haproxy.kill('SIGKILL');
        await closed;
      }
      await killServers();
      await deleteRedisKeys(prefix);
      for (const sandbox of sandboxes) sandbox.remove();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
