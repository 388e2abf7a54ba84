import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfiguration } from '../src/config/load-configuration.js';
import { defaultsFor, VARIABLES } from '../src/config/variables.js';
import { call, startApp, type TestApp } from './support/app.js';
import { eventually } from './support/eventually.js';
import { exposition, selectors } from './support/promql.js';
import { RedisServer } from './support/redis-server.js';
import { TEST_JWT_PRIVATE_KEY } from './support/environments.js';

/**
 * The files under deploy/ against the code they deploy: every object valid against the Kubernetes
 * schemas (and the Prometheus Operator's for ServiceMonitor and PrometheusRule), probe paths, what the
 * Ingress exposes, the variable table, which variables are secrets, and every metric an alert or a
 * dashboard panel queries read from the running service's GET /metrics. Nothing here needs a cluster,
 * Docker or Grafana.
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const KUBERNETES = `${ROOT}deploy/kubernetes/`;
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

type Json = Record<string, unknown>;
interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
interface EnvFrom {
  configMapRef?: { name: string };
  secretRef?: { name: string };
}
interface Probe {
  httpGet?: { path: string; port: number | string };
  failureThreshold?: number;
  periodSeconds?: number;
}
interface Container {
  name: string;
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: EnvFrom[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Json;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodSpec {
  containers: Container[];
  securityContext?: Json;
  terminationGracePeriodSeconds?: number;
  volumes?: { name: string; emptyDir?: Json }[];
}

const KNOWN = new Set(VARIABLES.map((v) => v.name));
/** Secrets and connection URLs (their password part is secret): only ever in the Secret. */
const SENSITIVE = new Set(VARIABLES.filter((v) => v.secret || v.url).map((v) => v.name));
const PRODUCTION_REQUIRED = ['REDIS_URL', 'DATABASE_URL', 'JWT_SECRET', 'OTP_SECRET', 'API_KEYS'];

function loadManifests(): Manifest[] {
  const manifests: Manifest[] = [];
  for (const file of readdirSync(KUBERNETES)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()) {
    for (const document of parseAllDocuments(readFileSync(`${KUBERNETES}${file}`, 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
      const value = document.toJS() as Manifest | null;
      if (value !== null) manifests.push({ ...value, file });
    }
  }
  return manifests;
}

const manifests = loadManifests();
const ofKind = (kind: string) => manifests.filter((m) => m.kind === kind);
function only(kind: string): Manifest {
  const found = ofKind(kind);
  if (found.length !== 1) throw new Error(`deploy/kubernetes: expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/**
 * The objects `kubectl apply -k deploy/kubernetes` sends, read the way kustomize reads them: each
 * resource a file, or a folder with a kustomization of its own; configMapGenerator's files become the
 * ConfigMap's data. A kustomization field this reader does not know fails the test rather than being
 * skipped. (Common labels are left out: they change no object's validity.)
 */
interface Kustomization {
  resources?: string[];
  configMapGenerator?: { name: string; files?: string[]; options?: { disableNameSuffixHash?: boolean; labels?: Record<string, string> } }[];
  labels?: unknown;
}
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'configMapGenerator', 'labels']);

function kustomize(folder: string): Manifest[] {
  const kustomization = parse(readFileSync(join(folder, 'kustomization.yaml'), 'utf8')) as Kustomization & Json;
  const unknown = Object.keys(kustomization).filter((field) => !KUSTOMIZATION_FIELDS.has(field));
  if (unknown.length > 0) throw new Error(`${folder}/kustomization.yaml: ${unknown.join(', ')} not understood by this test`);
  const objects: Manifest[] = [];
  for (const resource of kustomization.resources ?? []) {
    const path = join(folder, resource);
    if (statSync(path).isDirectory()) {
      objects.push(...kustomize(path));
      continue;
    }
    for (const document of parseAllDocuments(readFileSync(path, 'utf8'))) {
      const value = document.toJS() as Manifest | null;
      if (value !== null) objects.push({ ...value, file: relative(ROOT, path) });
    }
  }
  for (const generator of kustomization.configMapGenerator ?? []) {
    if (!generator.options?.disableNameSuffixHash) throw new Error(`${generator.name}: a hashed name cannot be referenced by a fixed one`);
    const data = Object.fromEntries((generator.files ?? []).map((file) => [basename(file), readFileSync(join(folder, file), 'utf8')]));
    objects.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: generator.name, labels: generator.options.labels },
      data,
      file: relative(ROOT, folder),
    });
  }
  return objects;
}

const rendered = kustomize(KUBERNETES);
const renderedOf = <T = Manifest>(kind: string) => rendered.filter((m) => m.kind === kind) as (Manifest & T)[];

/** Each kind the kit ships, with the model that validates it against its published schema. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

/** The schema's complaints about one object, or [] when it is valid. */
function schemaErrors(object: Json): string[] {
  const { file: _file, ...manifest } = object as Manifest;
  const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (!Model) return [`${manifest.apiVersion} ${manifest.kind}: no schema to validate it against`];
  try {
    new Model(manifest as never).validate();
    return [];
  } catch (error) {
    return [String((error as Error).message)];
  }
}

const deployment = only('Deployment') as Manifest & {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
};
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c) => c.name === 'otp-gateway') ?? pod.containers[0]!;
const configMaps = ofKind('ConfigMap') as (Manifest & { data?: Record<string, string> })[];
const secrets = ofKind('Secret') as (Manifest & { stringData?: Record<string, string>; data?: Record<string, string> })[];
const secretKeys = (s: (typeof secrets)[number]) => Object.keys({ ...s.data, ...s.stringData });

/** PromQL in a dashboard: panel targets' `expr` and template variables' `definition` / `query`. */
function dashboardExpressions(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => dashboardExpressions(item, found));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (typeof value === 'string' && ['expr', 'definition', 'query'].includes(key)) found.push(value);
      else dashboardExpressions(value, found);
    }
  }
  return found;
}

describe('deploy/kubernetes', () => {
  it('every manifest parses and kustomization.yaml lists exactly the other files, and the dashboard folder', () => {
    const kustomization = only('Kustomization') as Manifest & { resources: string[] };
    const files = [...new Set(manifests.map((m) => m.file))].filter((f) => f !== kustomization.file);
    const [folders, listed] = [
      kustomization.resources.filter((r) => !/\.ya?ml$/.test(r)),
      kustomization.resources.filter((r) => /\.ya?ml$/.test(r)),
    ];
    expect(listed.sort()).toEqual(files.sort());
    expect(folders).toEqual(['../grafana']);
    for (const folder of folders) expect(existsSync(join(KUBERNETES, folder, 'kustomization.yaml'))).toBe(true);
    for (const kind of [
      'Deployment',
      'Service',
      'ConfigMap',
      'Secret',
      'PodDisruptionBudget',
      'Ingress',
      'NetworkPolicy',
      'HorizontalPodAutoscaler',
      'ServiceMonitor',
      'PrometheusRule',
    ]) {
      expect({ kind, count: renderedOf(kind).length }).toEqual({ kind, count: kind === 'ConfigMap' ? 2 : 1 });
    }
  });

  it('every object is valid against the Kubernetes schemas (ServiceMonitor and PrometheusRule: the Prometheus Operator CRDs)', () => {
    expect(rendered.length).toBe(11);
    for (const object of rendered) {
      expect({ object: `${object.kind}/${object.metadata.name}`, errors: schemaErrors(object) }).toEqual({
        object: `${object.kind}/${object.metadata.name}`,
        errors: [],
      });
    }
  });

  it('the schema check refuses what a cluster would refuse', () => {
    const withPort = (port: unknown) => ({
      ...deployment,
      spec: {
        ...deployment.spec,
        template: { ...deployment.spec.template, spec: { ...pod, containers: [{ ...container, ports: [{ containerPort: port }] }] } },
      },
    });
    expect(schemaErrors(withPort(3000))).toEqual([]);
    expect(schemaErrors(withPort('3000')).join()).toMatch(/containerPort/);
    const hpa = renderedOf<{ spec: Json }>('HorizontalPodAutoscaler')[0]!;
    expect(schemaErrors({ ...hpa, spec: { ...hpa.spec, maxReplicas: undefined } }).join()).toMatch(/maxReplicas/);
    const rule = renderedOf<{ spec: { groups: Json[] } }>('PrometheusRule')[0]!;
    expect(schemaErrors({ ...rule, spec: { groups: [{ rules: [] }] } }).join()).toMatch(/name/);
    expect(schemaErrors({ apiVersion: 'example.com/v1', kind: 'Unknown', metadata: { name: 'x' } })).toEqual([
      'example.com/v1 Unknown: no schema to validate it against',
    ]);
  });

  it('kubectl kustomize renders the same objects, when kubectl is installed', () => {
    let output: string;
    try {
      output = execFileSync('kubectl', ['kustomize', KUBERNETES], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const theirs = parseAllDocuments(output).map((document) => document.toJS() as Manifest);
    const key = (m: Manifest) => `${m.kind}/${m.metadata.name}`;
    expect(theirs.map(key).sort()).toEqual(rendered.map(key).sort());
    const dashboard = (objects: Manifest[]) =>
      (
        objects.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'otp-gateway-dashboard') as Manifest & {
          data: Record<string, string>;
        }
      ).data;
    expect(dashboard(theirs)).toEqual(dashboard(rendered));
  });

  it('the HorizontalPodAutoscaler owns the replica count of the Deployment, two at least', () => {
    const hpa = renderedOf<{
      spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number };
    }>('HorizontalPodAutoscaler')[0]!;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    // A count in the Deployment would be put back by every `kubectl apply`, undoing the autoscaler.
    expect(deployment.spec.replicas).toBeUndefined();
  });

  it('the Deployment probes the health routes on the container port 3000', () => {
    const http = container.ports?.find((p) => p.containerPort === 3000);
    expect(http).toBeDefined();
    const targetsHttp = (port: number | string | undefined) => port === 3000 || (http?.name !== undefined && port === http.name);

    expect(container.livenessProbe?.httpGet?.path).toBe('/health/live');
    expect(container.readinessProbe?.httpGet?.path).toBe('/health/ready');
    expect(container.startupProbe?.httpGet?.path).toBe('/health/live');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
      expect(targetsHttp(probe?.httpGet?.port)).toBe(true);
    }
    // Start-up validates configuration and migrates the database: give it at least 30 s.
    const startup = container.startupProbe!;
    expect((startup.failureThreshold ?? 3) * (startup.periodSeconds ?? 10)).toBeGreaterThanOrEqual(30);
  });

  it('the Deployment runs as the unprivileged node user on a read-only root filesystem, with resources set', () => {
    const merged = { ...pod.securityContext, ...container.securityContext } as Json;
    expect(merged.runAsNonRoot).toBe(true);
    expect(merged.runAsUser).toBe(1000);
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();

    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.resources?.limits?.memory).toBeTruthy();
  });

  it('the grace period outlasts the drain period after SIGTERM', () => {
    const drainMs = Number(configMaps.map((c) => c.data?.SHUTDOWN_DRAIN_MS).find((v) => v !== undefined) ?? 5000);
    expect(pod.terminationGracePeriodSeconds).toBeDefined();
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThanOrEqual(drainMs + 10_000);
  });

  it('the Service and the PodDisruptionBudget select the pods and the Service targets the container port', () => {
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [key, value] of Object.entries(deployment.spec.selector.matchLabels)) expect(podLabels[key]).toBe(value);

    const service = only('Service') as Manifest & {
      spec: { type?: string; selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] };
    };
    expect(service.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    for (const [key, value] of Object.entries(service.spec.selector)) expect(podLabels[key]).toBe(value);
    expect(service.spec.ports.length).toBeGreaterThan(0);
    for (const port of service.spec.ports) {
      const target = container.ports?.find((p) => p.name === port.targetPort || p.containerPort === port.targetPort);
      expect(target?.containerPort).toBe(3000);
    }

    const pdb = only('PodDisruptionBudget') as Manifest & {
      spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } };
    };
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    const hpa = renderedOf<{ spec: { minReplicas: number } }>('HorizontalPodAutoscaler')[0]!;
    expect(pdb.spec.minAvailable!).toBeLessThan(hpa.spec.minReplicas);
    for (const [key, value] of Object.entries(pdb.spec.selector.matchLabels)) expect(podLabels[key]).toBe(value);
  });

  it('every Secret and ConfigMap reference names one defined in the manifests', () => {
    const secretNames = new Set(secrets.map((s) => s.metadata.name));
    const configMapNames = new Set(configMaps.map((c) => c.metadata.name));
    const referenced = { secrets: [] as string[], configMaps: [] as string[] };
    for (const c of pod.containers) {
      for (const from of c.envFrom ?? []) {
        if (from.secretRef) referenced.secrets.push(from.secretRef.name);
        if (from.configMapRef) referenced.configMaps.push(from.configMapRef.name);
      }
      for (const variable of c.env ?? []) {
        const secretRef = variable.valueFrom?.secretKeyRef;
        if (secretRef) {
          referenced.secrets.push(secretRef.name);
          expect(secretKeys(secrets.find((s) => s.metadata.name === secretRef.name)!)).toContain(secretRef.key);
        }
        const configRef = variable.valueFrom?.configMapKeyRef;
        if (configRef) {
          referenced.configMaps.push(configRef.name);
          expect(Object.keys(configMaps.find((m) => m.metadata.name === configRef.name)?.data ?? {})).toContain(configRef.key);
        }
      }
    }
    expect(referenced.secrets.length).toBeGreaterThan(0);
    expect(referenced.configMaps.length).toBeGreaterThan(0);
    for (const name of referenced.secrets) expect(secretNames).toContain(name);
    for (const name of referenced.configMaps) expect(configMapNames).toContain(name);
  });

  it('names only known variables, keeps every secret out of the ConfigMap and plain env, and sets production', () => {
    const plainEnv = container.env?.filter((v) => v.valueFrom === undefined) ?? [];
    const configKeys = configMaps.flatMap((c) => Object.keys(c.data ?? {}));
    const secretKeyNames = secrets.flatMap(secretKeys);

    expect(configKeys.length).toBeGreaterThan(0);
    for (const name of [...plainEnv.map((v) => v.name), ...configKeys, ...secretKeyNames]) expect(KNOWN).toContain(name);
    for (const name of [...plainEnv.map((v) => v.name), ...configKeys]) expect(SENSITIVE).not.toContain(name);
    for (const name of secretKeyNames) expect(SENSITIVE).toContain(name);
    for (const name of PRODUCTION_REQUIRED) expect(secretKeyNames).toContain(name);
    // Production refuses to start with a fixed code.
    expect([...configKeys, ...secretKeyNames, ...plainEnv.map((v) => v.name)]).not.toContain('OTP_FIXED_CODE');

    expect(plainEnv.find((v) => v.name === 'NODE_ENV')?.value).toBe('production');
    const emailProviders = configMaps.map((c) => c.data?.EMAIL_PROVIDERS).find((v) => v !== undefined) ?? '';
    expect(emailProviders.split(',')).not.toContain('console');
  });

  it('production start-up refuses the placeholders as shipped and accepts them once filled in', () => {
    const shipped: Record<string, string> = {
      ...Object.fromEntries(container.env?.filter((v) => v.value !== undefined).map((v) => [v.name, v.value!]) ?? []),
      ...Object.assign({}, ...configMaps.map((c) => c.data ?? {})),
      ...Object.assign({}, ...secrets.map((s) => ({ ...s.data, ...s.stringData }))),
    };
    const load = (env: Record<string, string>) => loadConfiguration(env, { configDir: `${ROOT}config/` }).problems.map((p) => p.variable);

    const refused = load(shipped);
    for (const name of ['JWT_SECRET', 'OTP_SECRET', 'API_KEYS']) expect(refused).toContain(name);

    // What an operator puts in place of each placeholder: the only values this test supplies.
    const filled: Record<string, string> = {
      REDIS_URL: 'redis://:a-real-password@redis:6379/0',
      DATABASE_URL: 'postgres://otp:a-real-password@postgres:5432/otp',
      JWT_SECRET: 'j'.repeat(40),
      JWT_PRIVATE_KEY: TEST_JWT_PRIVATE_KEY,
      OTP_SECRET: 'o'.repeat(40),
      API_KEYS: 'k'.repeat(24),
      SMTP_PASSWORD: 'a-real-smtp-password',
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'b'.repeat(32),
      TWILIO_FROM: '+14155550100',
    };
    const placeholders = Object.keys(shipped).filter(
      (name) => shipped[name]!.includes('replace-me') || (shipped[name] === '' && name in filled),
    );
    expect(placeholders.sort()).toEqual(Object.keys(filled).sort());
    expect(load({ ...shipped, ...filled })).toEqual([]);

    // A Redis Cluster instead: the seeds in the ConfigMap, the Secret's REDIS_URL emptied as its comment says.
    const cluster = { ...shipped, ...filled, REDIS_CLUSTER_NODES: 'redis-0.redis:6379,redis-1.redis:6379', REDIS_URL: '' };
    expect(load(cluster)).toEqual([]);
    expect(load({ ...cluster, REDIS_URL: filled.REDIS_URL! })).toEqual(['REDIS_CLUSTER_NODES']);
    // Or Sentinels, the same way.
    const sentinel = { ...shipped, ...filled, REDIS_SENTINELS: 'redis-sentinel:26379', REDIS_URL: '' };
    expect(load(sentinel)).toEqual([]);
    expect(load({ ...sentinel, REDIS_URL: filled.REDIS_URL! })).toEqual(['REDIS_SENTINELS']);
  });

  it('ConfigMap values match the production defaults of the table of variables', () => {
    const defaults = defaultsFor('production');
    let compared = 0;
    for (const configMap of configMaps) {
      for (const [name, value] of Object.entries(configMap.data ?? {})) {
        if (!(name in defaults)) continue;
        expect(`${name}=${value}`).toBe(`${name}=${String(defaults[name])}`);
        compared += 1;
      }
    }
    expect(compared).toBeGreaterThan(10);
  });
});

describe('deploy/kubernetes: what is exposed, and to whom', () => {
  const service = only('Service') as Manifest & { spec: { ports: { name?: string; port: number }[]; selector: Record<string, string> } };
  const ingress = renderedOf<{
    spec: {
      defaultBackend?: unknown;
      tls?: unknown[];
      rules: {
        http: {
          paths: { path: string; pathType: string; backend: { service: { name: string; port: { name?: string; number?: number } } } }[];
        };
      }[];
    };
  }>('Ingress')[0]!;
  const paths = ingress.spec.rules.flatMap((rule) => rule.http.paths);

  /** Whether the Ingress routes a request path, as `pathType: Prefix` matches: whole path segments. */
  const routed = (path: string) =>
    paths.some((p) => p.pathType === 'Prefix' && (path === p.path || path.startsWith(`${p.path.replace(/\/$/, '')}/`)));

  it('the Ingress exposes only the public paths, /v1/auth and /ui, to the internal Service', () => {
    expect(paths.map((p) => `${p.pathType} ${p.path}`).sort()).toEqual(['Prefix /ui', 'Prefix /v1/auth']);
    expect(ingress.spec.defaultBackend).toBeUndefined();
    expect(ingress.spec.tls?.length).toBeGreaterThan(0);
    for (const { backend } of paths) {
      expect(backend.service.name).toBe(service.metadata.name);
      expect(service.spec.ports.some((port) => port.name === backend.service.port.name || port.port === backend.service.port.number)).toBe(
        true,
      );
    }
    for (const path of ['/v1/auth/register', '/v1/auth/otp/verify', '/v1/auth/me', '/ui/', '/ui/sign-in'])
      expect({ path, routed: routed(path) }).toEqual({ path, routed: true });
    for (const path of [
      '/v1/verifications',
      '/v1/verifications/check',
      '/v1/admin/rate-limits/x',
      '/metrics',
      '/docs',
      '/docs-json',
      '/health',
      '/health/ready',
      '/health/messaging',
      '/v1/authx',
      '/uix',
      '/',
    ]) {
      expect({ path, routed: routed(path) }).toEqual({ path, routed: false });
    }
  });

  it('the NetworkPolicy covers the pods and lets in the ingress controller, Prometheus and labelled clients on the http port only', () => {
    const policy = renderedOf<{
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        policyTypes: string[];
        ingress: { from: Json[]; ports: { port: string | number }[] }[];
      };
    }>('NetworkPolicy')[0]!;
    const podLabels = deployment.spec.template.metadata.labels;
    for (const [key, value] of Object.entries(policy.spec.podSelector.matchLabels)) expect(podLabels[key]).toBe(value);
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress.length).toBe(3);
    for (const rule of policy.spec.ingress) {
      expect(rule.from.length).toBeGreaterThan(0);
      expect(rule.ports.map((p) => p.port)).toEqual(['http']);
    }
    expect(container.ports?.find((p) => p.name === 'http')?.containerPort).toBe(3000);
    const namespaces = policy.spec.ingress.flatMap((rule) => rule.from.map((peer) => JSON.stringify(peer)));
    expect(namespaces.join()).toContain('ingress-nginx');
    expect(namespaces.join()).toContain('prometheus');
  });

  it('the ServiceMonitor scrapes /metrics through the internal Service', () => {
    const monitor = renderedOf<{
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path?: string }[] };
    }>('ServiceMonitor')[0]!;
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels?.[key]).toBe(value);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: service.spec.ports[0]!.name, path: '/metrics' })]);
  });

  it('the dashboard ships as a ConfigMap labelled for the Grafana sidecar, holding the dashboard file as it is', () => {
    const configMap = renderedOf<{ data: Record<string, string> }>('ConfigMap').find((c) => c.metadata.name === 'otp-gateway-dashboard')!;
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    expect(configMap.data).toEqual({ 'otp-gateway-dashboard.json': read('deploy/grafana/otp-gateway-dashboard.json') });
  });

  it('trusts the one proxy in front of the pods, so users behind the Ingress keep their own addresses', () => {
    const trustProxy = configMaps.map((c) => c.data?.TRUST_PROXY).find((v) => v !== undefined);
    expect(trustProxy).toBe('1');
    const configured = loadConfiguration({ ...Object.assign({}, ...configMaps.map((c) => c.data ?? {})) }, { configDir: `${ROOT}config/` });
    expect(configured.problems.map((p) => p.variable)).not.toContain('TRUST_PROXY');
    expect(configured.configuration.app.trustProxy).toBe(1);
  });
});

describe('deploy/docker-compose.yml', () => {
  const compose = parse(read('deploy/docker-compose.yml')) as {
    services: Record<
      string,
      {
        image?: string;
        network_mode?: string;
        environment?: Record<string, string | number | boolean | null> | string[];
        depends_on?: Record<string, { condition: string }>;
        healthcheck?: Json;
        build?: { context: string };
      }
    >;
  };
  const service = compose.services['otp-gateway']!;
  const environment: Record<string, string> = Array.isArray(service.environment)
    ? Object.fromEntries(service.environment.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]))
    : Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));

  it('builds the service from the repository and names only known variables', () => {
    expect(service.build?.context).toBe('..');
    expect(Object.keys(environment).length).toBeGreaterThan(0);
    // SMTP_REQUIRE_TLS: the SPEC's switch for a plain-text relay inside the network (Configuration).
    for (const name of Object.keys(environment)) expect([...KNOWN, 'SMTP_REQUIRE_TLS']).toContain(name);
  });

  it('reaches Mailpit over the stack network as a plain relay, and pins every image it pulls', () => {
    expect(service.network_mode).toBeUndefined();
    expect(environment.SMTP_HOST).toBe('mailpit');
    expect(environment.SMTP_REQUIRE_TLS).toBe('false');
    expect(compose.services.mailpit?.environment).toMatchObject({ MP_SMTP_BIND_ADDR: `0.0.0.0:${environment.SMTP_PORT}` });
    for (const [name, { image }] of Object.entries(compose.services)) {
      if (name === 'otp-gateway') continue;
      expect({ name, image }).toEqual({ name, image: expect.stringMatching(/^[\w./-]+:v?\d+(\.\d+)*(-[\w.]+)?$/) });
    }
  });

  it('has what production start-up requires, in the right shapes', () => {
    expect(environment.NODE_ENV).toBe('production');
    for (const name of PRODUCTION_REQUIRED) expect(environment[name]).toBeTruthy();
    expect(environment.REDIS_URL).toMatch(/^rediss?:\/\//);
    expect(environment.DATABASE_URL).toMatch(/^postgres(ql)?:\/\//);
    expect(environment.JWT_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(environment.OTP_SECRET!.length).toBeGreaterThanOrEqual(32);
    expect(environment.JWT_SECRET).not.toBe(environment.OTP_SECRET);
    for (const key of environment.API_KEYS!.split(',')) expect(key.trim().length).toBeGreaterThanOrEqual(16);
    expect(environment.OTP_FIXED_CODE ?? '').toBe('');
    // The service's own start-up validation, as the container would run it (config/ files included).
    expect(loadConfiguration(environment, { configDir: `${ROOT}config/` }).problems).toEqual([]);

    const channels = (environment.OTP_CHANNELS ?? 'email,sms').split(',');
    expect((environment.EMAIL_PROVIDERS ?? 'smtp').split(',')).not.toContain('console');
    if (channels.includes('email')) expect(environment.SMTP_HOST && environment.SMTP_FROM).toBeTruthy();
    if (channels.includes('sms')) {
      expect(environment.TWILIO_ACCOUNT_SID).toMatch(/^AC[0-9a-f]{32}$/);
      expect(environment.TWILIO_AUTH_TOKEN).toMatch(/^[0-9a-f]{32}$/);
      expect(environment.TWILIO_FROM).toMatch(/^\+[1-9]\d{6,14}$/);
    }
  });

  it('waits for healthy dependencies and has a health check of its own', () => {
    expect(service.healthcheck).toBeDefined();
    const dependsOn = Object.entries(service.depends_on ?? {});
    expect(dependsOn.map(([name]) => name)).toEqual(expect.arrayContaining(['redis', 'postgres']));
    for (const [name, { condition }] of dependsOn) {
      expect(`${name}: ${condition}`).toBe(`${name}: service_healthy`);
      expect(compose.services[name]?.healthcheck).toBeDefined();
    }
  });
});

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = renderedOf<{ spec: { groups: { name: string; rules: AlertRule[] }[] } }>('PrometheusRule').flatMap((rule) =>
  rule.spec.groups.flatMap((group) => group.rules),
);
const alerts = rules.filter((rule) => rule.alert !== undefined);
const dashboard = JSON.parse(read('deploy/grafana/otp-gateway-dashboard.json')) as Json & {
  panels: (Json & { title: string; targets?: { expr: string }[] })[];
};
const panelQueries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
const templateQueries = dashboardExpressions((dashboard as { templating?: unknown }).templating).filter((query) => query !== 'prometheus');
const metricsOf = (expression: string) => new Set(selectors(expression).map((selector) => selector.metric));

describe('alerts and dashboard', () => {
  it('alert on the five signals of a service that fails silently', () => {
    const byMetric = (metric: string) => alerts.filter((alert) => metricsOf(alert.expr).has(metric)).map((alert) => alert.alert);
    // No delivery worker; a channel without a usable provider; deliveries failing; 5xx; approvals falling.
    expect(byMetric('otp_delivery_workers')).toEqual(['OtpNoDeliveryWorker']);
    expect(byMetric('otp_channel_usable')).toEqual(['OtpChannelUnusable']);
    expect(byMetric('otp_deliveries_total')).toEqual(['OtpDeliveryFailureRate']);
    expect(byMetric('otp_http_request_duration_seconds_count')).toEqual(['OtpHttp5xxRate']);
    expect(byMetric('otp_verifications_approved_total')).toEqual(['OtpApprovalRateFalling']);
    for (const alert of alerts) {
      expect(alert).toMatchObject({
        for: expect.stringMatching(/^\d+m$/),
        labels: { severity: expect.stringMatching(/^(critical|warning)$/) },
        annotations: { summary: expect.any(String), description: expect.any(String) },
      });
    }
  });

  it('every alert has a dashboard panel querying its signal', () => {
    const panelMetrics = new Set(panelQueries.flatMap((query) => [...metricsOf(query)]));
    for (const alert of alerts) {
      const missing = [...metricsOf(alert.expr)].filter((metric) => !panelMetrics.has(metric));
      expect({ alert: alert.alert, missing }).toEqual({ alert: alert.alert, missing: [] });
      expect(dashboard.panels.some((panel) => panel.title.includes(alert.alert!))).toBe(true);
    }
  });

  it('the dashboard picks its Prometheus from a variable, so it works imported by hand or loaded by the sidecar', () => {
    expect(dashboard.__inputs).toBeUndefined();
    const variables = (dashboard.templating as { list: { name: string; type: string; query: unknown }[] }).list;
    expect(variables).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' })]),
    );
    const sources = new Set(JSON.stringify(dashboard.panels).match(/"uid":"[^"]*"/g));
    expect([...sources]).toEqual(['"uid":"${datasource}"']);
  });

  it('reads metric names and label names out of PromQL', () => {
    expect(selectors('max by (channel) (otp_channel_usable{job="x"}) == 0 or absent(otp_delivery_workers{job=~"$job"})')).toEqual([
      { metric: 'otp_channel_usable', labels: ['job'] },
      { metric: 'otp_delivery_workers', labels: ['job'] },
    ]);
    expect(
      selectors('sum(rate(a_total{status=~"5..", route!~"/health.*|{x}"}[5m] offset 1d)) / clamp_min(b_bucket, 1e-9) > 0.7 * c'),
    ).toEqual([
      { metric: 'a_total', labels: ['status', 'route'] },
      { metric: 'b_bucket', labels: [] },
      { metric: 'c', labels: [] },
    ]);
    expect(selectors('histogram_quantile(0.99, sum by (le, provider) (rate(h_bucket[$__rate_interval])))')).toEqual([
      { metric: 'h_bucket', labels: [] },
    ]);
    expect(selectors('label_values(otp_verifications_started_total, job)')).toEqual([
      { metric: 'otp_verifications_started_total', labels: [] },
    ]);
  });

  describe('against GET /metrics of the running service', () => {
    let redis: RedisServer;
    let app: TestApp;
    let served: Map<string, Set<string>>;
    beforeAll(async () => {
      // Production's delivery path (a Bull queue and a worker on Redis), and a channel without a usable provider.
      redis = await RedisServer.start();
      app = await startApp({ REDIS_URL: redis.url, OTP_CHANNELS: 'email,sms', SMS_PROVIDERS: 'twilio' });
      // Traffic for every labelled family the alerts read: a send, its delivery, a check, a 4xx.
      const since = app.logs.entries.length;
      const started = await call(app.url, 'POST', '/v1/verifications', { channel: 'email', to: 'deploy-metrics@example.com' });
      expect(started.status).toBe(201);
      const code = await app.logs.nextCodeFor('deploy-metrics@example.com', since);
      expect((await call(app.url, 'POST', '/v1/verifications/check', { id: started.body.id, code })).status).toBe(200);
      expect((await call(app.url, 'POST', '/v1/verifications', { channel: 'email' })).status).toBe(400);
      await eventually(async () => {
        const text = await (await fetch(`${app.url}/metrics`)).text();
        expect(text).toMatch(/^otp_deliveries_total\{channel="email",result="sent"\} 1$/m);
        expect(text).toMatch(/^otp_delivery_workers 1$/m);
        served = exposition(text);
      });
    }, 60_000);
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('serves every metric an alert or a panel queries, with the labels they match on', () => {
      const queries = [...rules.map((rule) => rule.expr), ...panelQueries, ...templateQueries];
      expect(queries.length).toBeGreaterThanOrEqual(25);
      const problems: string[] = [];
      for (const query of queries) {
        const found = selectors(query);
        if (found.length === 0) problems.push(`no metric in: ${query}`);
        for (const { metric, labels } of found) {
          const known = served.get(metric);
          if (!known) {
            problems.push(`${metric} is not served`);
            continue;
          }
          // job and instance are Prometheus's, added at scrape time.
          for (const label of labels.filter((l) => l !== 'job' && l !== 'instance'))
            if (!known.has(label)) problems.push(`${metric} has no label ${label}`);
        }
      }
      expect(problems).toEqual([]);
    });

    it('the check above fails on a name or a label the service does not serve', () => {
      expect(served.has('otp_messages_sent_total')).toBe(false);
      expect(served.get('otp_http_request_duration_seconds_count')?.has('code')).toBe(false);
      expect(served.get('otp_http_request_duration_seconds_count')?.has('status')).toBe(true);
      expect(served.get('otp_delivery_latency_seconds_bucket')?.has('le')).toBe(true);
    });

    it('reports the channel without a usable provider, and who delivers', async () => {
      const text = await (await fetch(`${app.url}/metrics`)).text();
      expect(text).toMatch(/^otp_channel_usable\{channel="email"\} 1$/m);
      expect(text).toMatch(/^otp_channel_usable\{channel="sms"\} 0$/m);
      expect(text).toMatch(/^otp_provider_healthy\{channel="sms",provider="twilio"\} 0$/m);
      expect(text).toMatch(/^otp_provider_healthy\{channel="email",provider="console"\} 1$/m);
      expect(text).toMatch(/^otp_delivery_workers 1$/m);
    });
  });
});
