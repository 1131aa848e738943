/**
 * deploy/kubernetes: every manifest must be a valid Kubernetes object (the API's OpenAPI schemas, as bundled by
 * kubernetes-models), and the objects must fit together and fit the server: selectors find the pods, the autoscaler
 * and the disruption budget aim at the Deployment, probes hit paths the server answers, every variable is one the
 * server reads and the resulting configuration loads, secrets and volumes referenced exist.
 *
 * Not checked here: unknown fields (kubernetes-models validates types, enums and required fields, but lets extra keys
 * through, as `kubectl apply --validate=false` would), and anything only a cluster can tell (feature gates, storage
 * classes, admission policies).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Config } from '../../server/config/schema.js';
import { configFromEnvironment, imageEnvironment, isServerVariable, readYamlDocuments, ROOT } from '../helpers/deploy-manifests.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const DIR = path.join(ROOT, 'deploy', 'kubernetes');

/** The fields of Kubernetes objects these tests read; everything is checked against the real schema first. */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}
type Labels = Record<string, string>;
interface Probe {
  httpGet?: { path?: string; port: string | number };
}
interface Container {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: {
    procMount?: string;
    readOnlyRootFilesystem?: boolean;
    seccompProfile?: { type: string };
    appArmorProfile?: { type: string };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Volume {
  name: string;
  emptyDir?: object;
  persistentVolumeClaim?: { claimName: string };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
}
interface PodSpec {
  hostUsers?: boolean;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  volumes?: Volume[];
}
interface DeploymentSpec {
  replicas?: number;
  selector: { matchLabels?: Labels };
  template: { metadata?: { labels?: Labels }; spec: PodSpec };
}

/** Every YAML document of the folder but the kustomization, with the file it came from. */
const documents = readdirSync(DIR)
  .filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml')
  .sort()
  .flatMap((file) => readYamlDocuments(path.join(DIR, file), { version: '1.1' }).map((object) => ({ file, object: object as K8sObject })));
const objects = documents.map((document) => document.object);
const kustomization = readYamlDocuments(path.join(DIR, 'kustomization.yaml'))[0] as {
  resources: string[];
  namespace?: string;
  images?: { name: string; newName?: string; newTag?: string }[];
};

const ofKind = (kind: string) => objects.filter((object) => object.kind === kind);
const named = (kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata.name === name);
const deploymentSpec = (object: K8sObject) => object.spec as unknown as DeploymentSpec;
const matches = (selector: Labels | undefined, labels: Labels | undefined) =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([key, value]) => labels?.[key] === value);
/** Deployments whose pods a label selector picks. */
const podsSelectedBy = (selector: Labels | undefined) => ofKind('Deployment').filter((d) => matches(selector, deploymentSpec(d).template.metadata?.labels));

const server = named('Deployment', 'claude-code-mcp');
const serverPod = () => deploymentSpec(server!).template.spec;
const serverContainer = () => serverPod().containers[0]!;

/** What the Kubernetes schema of the object's apiVersion and kind (kubernetes-models) finds wrong with it; [] when valid. */
async function schemaErrors(object: K8sObject): Promise<string[]> {
  if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') return ['apiVersion and kind are required'];
  let Model: new (data: unknown) => { validate(): void };
  try {
    const module = (await import(`kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<string, typeof Model>;
    Model = module[object.kind]!;
  } catch {
    return [`no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [(error as Error).message];
  }
}

/** The environment the server container sees: image ENV, then envFrom ConfigMaps, then `env` (literal values only). */
function serverEnvironment(): Record<string, string> {
  const env = imageEnvironment();
  for (const source of serverContainer().envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, named('ConfigMap', source.configMapRef.name)?.data ?? {});
  }
  for (const variable of serverContainer().env ?? []) {
    env[variable.name] = variable.value ?? 'from-a-secret';
  }
  return env;
}

describe('Kubernetes manifests: schemas', () => {
  it('found the manifests', () => {
    expect(ofKind('Deployment').length).toBeGreaterThanOrEqual(1);
    expect(server).toBeDefined();
  });

  it.each(documents.map(({ file, object }) => ({ file, kind: object.kind, name: object.metadata?.name, object })))(
    '$file: $kind $name is valid against its Kubernetes schema',
    async ({ object }) => {
      expect(await schemaErrors(object)).toEqual([]);
    },
  );

  it('kustomization.yaml applies every manifest but the examples, and only files that exist', () => {
    const manifests = readdirSync(DIR).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml' && !file.includes('.example.'));
    expect([...kustomization.resources].sort()).toEqual(manifests.sort());
  });

  it('kustomization.yaml retargets only images the manifests use', () => {
    const images = ofKind('Deployment').flatMap((d) => deploymentSpec(d).template.spec.containers.map((c) => c.image));
    for (const image of kustomization.images ?? []) expect(images).toContain(image.name);
  });

  it('the example Secret lives in the namespace the kustomization applies', () => {
    const secret = named('Secret', 'claude-code-mcp') as (K8sObject & { metadata: { namespace?: string } }) | undefined;
    expect(secret?.metadata.namespace).toBe(kustomization.namespace);
    expect(named('Namespace', kustomization.namespace ?? '')).toBeDefined();
  });
});

describe('Kubernetes manifests: references between objects', () => {
  it.each(ofKind('Deployment').map((d) => ({ name: d.metadata.name, d })))('Deployment $name selects its own pods', ({ d }) => {
    expect(matches(deploymentSpec(d).selector.matchLabels, deploymentSpec(d).template.metadata?.labels)).toBe(true);
  });

  it.each(ofKind('Service').map((s) => ({ name: s.metadata.name, s })))('Service $name selects the pods of exactly one Deployment, on a port they open', ({ s }) => {
    const spec = s.spec as { selector?: Labels; ports: { targetPort?: string | number }[] };
    const selected = podsSelectedBy(spec.selector);
    expect(selected.map((d) => d.metadata.name)).toHaveLength(1);
    const ports = deploymentSpec(selected[0]!).template.spec.containers.flatMap((c) => c.ports ?? []);
    for (const { targetPort } of spec.ports) {
      expect(ports.some((port) => port.name === targetPort || port.containerPort === targetPort)).toBe(true);
    }
  });

  it('the server Service reaches the server pods', () => {
    const service = named('Service', 'claude-code-mcp');
    expect(podsSelectedBy((service?.spec as { selector?: Labels }).selector)).toEqual([server]);
  });

  it('the HorizontalPodAutoscaler scales the server Deployment and never below two replicas', () => {
    const [hpa, ...others] = ofKind('HorizontalPodAutoscaler');
    expect(others).toEqual([]);
    const spec = hpa!.spec as { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number };
    expect(spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: server!.metadata.name });
    expect(spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(spec.maxReplicas).toBeGreaterThanOrEqual(spec.minReplicas);
    expect(deploymentSpec(server!).replicas).toBeGreaterThanOrEqual(2);
  });

  it('the PodDisruptionBudget covers the server pods only and lets a drain proceed', () => {
    const [pdb, ...others] = ofKind('PodDisruptionBudget');
    expect(others).toEqual([]);
    const spec = pdb!.spec as { selector: { matchLabels: Labels }; maxUnavailable?: number; minAvailable?: number };
    expect(podsSelectedBy(spec.selector.matchLabels)).toEqual([server]);
    const replicas = deploymentSpec(server!).replicas ?? 1;
    const allowed = spec.maxUnavailable ?? replicas - (spec.minAvailable ?? replicas);
    expect(allowed).toBeGreaterThanOrEqual(1);
    expect(replicas - allowed).toBeGreaterThanOrEqual(1);
  });

  it('every ConfigMap, Secret key and claim the pods use is defined here', () => {
    for (const deployment of ofKind('Deployment')) {
      const pod = deploymentSpec(deployment).template.spec;
      for (const container of pod.containers) {
        for (const source of container.envFrom ?? []) {
          if (source.configMapRef) expect(named('ConfigMap', source.configMapRef.name)).toBeDefined();
          if (source.secretRef) expect(named('Secret', source.secretRef.name)).toBeDefined();
        }
        for (const variable of container.env ?? []) {
          const ref = variable.valueFrom?.secretKeyRef;
          if (ref) expect(Object.keys(named('Secret', ref.name)?.stringData ?? {})).toContain(ref.key);
        }
      }
      for (const volume of pod.volumes ?? []) {
        if (volume.secret) {
          const keys = Object.keys(named('Secret', volume.secret.secretName)?.stringData ?? {});
          for (const item of volume.secret.items ?? []) expect(keys).toContain(item.key);
        }
        if (volume.persistentVolumeClaim) expect(named('PersistentVolumeClaim', volume.persistentVolumeClaim.claimName)).toBeDefined();
      }
    }
  });
});

describe('Kubernetes manifests: fit with the server', () => {
  let config: Config;
  let running: TestServer;
  beforeAll(async () => {
    config = configFromEnvironment(serverEnvironment());
    running = await startTestServer();
  });
  afterAll(async () => {
    await running?.stop();
  });

  it('every environment variable the manifests name is one the server reads', () => {
    const names = ofKind('ConfigMap').flatMap((map) => Object.keys(map.data ?? {}));
    names.push(...serverPod().containers.flatMap((c) => (c.env ?? []).map((e) => e.name)));
    expect(names.length).toBeGreaterThan(0);
    expect(names.filter((name) => !isServerVariable(name))).toEqual([]);
  });

  it('the configuration the pods get loads, on shared Redis storage, behind an https BASE_URL', () => {
    expect(config.storage).toBe('redis');
    expect(config.baseUrl).toMatch(/^https:\/\//);
    expect(config.host).toBe('0.0.0.0');
  });

  it('the container port is the port the server listens on', () => {
    expect(serverContainer().ports?.map((port) => port.containerPort)).toContain(config.port);
  });

  it('each secret file variable points into a mounted secret, at a key the Secret has', () => {
    const container = serverContainer();
    const fileVariables = (container.env ?? []).filter((e) => e.name.endsWith('_FILE') && e.value);
    expect(fileVariables.length).toBeGreaterThan(0);
    for (const variable of fileVariables) {
      const mount = container.volumeMounts?.find((m) => variable.value!.startsWith(`${m.mountPath}/`));
      const volume = serverPod().volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret).toBeDefined();
      const file = variable.value!.slice(mount!.mountPath.length + 1);
      const key = volume!.secret!.items ? volume!.secret!.items.find((item) => item.path === file)?.key : file;
      expect(Object.keys(named('Secret', volume!.secret!.secretName)?.stringData ?? {})).toContain(key);
    }
  });

  it('probes: liveness on /health, readiness on /health/ready, on the container port, and the server answers both', async () => {
    const container = serverContainer();
    expect(container.livenessProbe?.httpGet?.path).toBe('/health');
    expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
    const portNames = (container.ports ?? []).flatMap((port) => [port.name, port.containerPort]);
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe].filter((p): p is Probe => p !== undefined)) {
      expect(portNames).toContain(probe.httpGet?.port);
      const answer = await fetch(`${running.url}${probe.httpGet!.path}`);
      expect(answer.status).toBe(200);
    }
  });

  it('the grace period outlasts SHUTDOWN_TIMEOUT_MS, so a draining pod is not killed mid-shutdown', () => {
    expect((serverPod().terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(config.shutdownTimeoutMs);
  });

  it('the workspace root is the ReadWriteMany claim every replica mounts', () => {
    const mount = serverContainer().volumeMounts?.find((m) => config.workspaceRoots.includes(m.mountPath));
    const claim = serverPod().volumes?.find((v) => v.name === mount?.name)?.persistentVolumeClaim?.claimName;
    const pvc = named('PersistentVolumeClaim', claim ?? '');
    expect((pvc?.spec as { accessModes: string[] }).accessModes).toContain('ReadWriteMany');
  });

  it('with a read-only root file system, every place the server and Claude write is a volume', () => {
    const container = serverContainer();
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    const mounted = (container.volumeMounts ?? []).map((m) => m.mountPath);
    expect(mounted).toEqual(expect.arrayContaining(['/tmp', '/home/node', config.dataDir, ...config.workspaceRoots]));
  });

  it("keeps what Claude's sandbox needs in a container: own user namespace, unmasked /proc, unconfined seccomp and AppArmor", () => {
    const { securityContext } = serverContainer();
    expect(serverPod().hostUsers).toBe(false);
    expect(securityContext?.procMount).toBe('Unmasked');
    expect(securityContext?.seccompProfile?.type).toBe('Unconfined');
    expect(securityContext?.appArmorProfile?.type).toBe('Unconfined');
  });
});
