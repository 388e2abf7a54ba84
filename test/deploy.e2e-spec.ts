import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfiguration } from '../src/config/load-configuration.js';
import { VARIABLES } from '../src/config/variables.js';

/**
 * The files under deploy/ against the code they deploy: probe paths, the variable table, which
 * variables are secrets, and the metric names the dashboard queries. Nothing here needs a cluster,
 * Docker or Grafana; it reads the files.
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
  for (const file of readdirSync(KUBERNETES).filter((name) => /\.ya?ml$/.test(name)).sort()) {
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

const deployment = only('Deployment') as Manifest & {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};
const pod = deployment.spec.template.spec;
const container = pod.containers.find((c) => c.name === 'otp-gateway') ?? pod.containers[0]!;
const configMaps = ofKind('ConfigMap') as (Manifest & { data?: Record<string, string> })[];
const secrets = ofKind('Secret') as (Manifest & { stringData?: Record<string, string>; data?: Record<string, string> })[];
const secretKeys = (s: (typeof secrets)[number]) => Object.keys({ ...s.data, ...s.stringData });

/** The metric base names the service defines, read from the source so a rename breaks this test. */
function definedMetrics(): Set<string> {
  const source = read('src/metrics/metrics.service.ts');
  return new Set([...source.matchAll(/\bname:\s*'(otp_[a-z_]+)'/g)].map((m) => m[1]!));
}

/** Every otp_* name an expression references that is not a defined series (histograms add _bucket, _sum, _count). */
function unknownMetrics(expressions: string[], defined: Set<string>): string[] {
  const unknown = new Set<string>();
  for (const expression of expressions) {
    for (const [name] of expression.matchAll(/otp_[a-z_]+/g)) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      if (!defined.has(name) && !defined.has(base)) unknown.add(name);
    }
  }
  return [...unknown];
}

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
  it('every manifest parses and kustomization.yaml lists exactly the other files', () => {
    const kustomization = only('Kustomization') as Manifest & { resources: string[] };
    const files = [...new Set(manifests.map((m) => m.file))].filter((f) => f !== kustomization.file);
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget']) {
      expect(ofKind(kind).length).toBeGreaterThan(0);
    }
  });

  it('the Deployment probes the health routes on the container port 3000', () => {
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
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

    const service = only('Service') as Manifest & { spec: { type?: string; selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] } };
    expect(service.spec.type ?? 'ClusterIP').toBe('ClusterIP');
    for (const [key, value] of Object.entries(service.spec.selector)) expect(podLabels[key]).toBe(value);
    expect(service.spec.ports.length).toBeGreaterThan(0);
    for (const port of service.spec.ports) {
      const target = container.ports?.find((p) => p.name === port.targetPort || p.containerPort === port.targetPort);
      expect(target?.containerPort).toBe(3000);
    }

    const pdb = only('PodDisruptionBudget') as Manifest & { spec: { minAvailable?: number; selector: { matchLabels: Record<string, string> } } };
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable!).toBeLessThan(deployment.spec.replicas);
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
      OTP_SECRET: 'o'.repeat(40),
      API_KEYS: 'k'.repeat(24),
      SMTP_PASSWORD: 'a-real-smtp-password',
      TWILIO_ACCOUNT_SID: `AC${'a'.repeat(32)}`,
      TWILIO_AUTH_TOKEN: 'b'.repeat(32),
      TWILIO_FROM: '+14155550100',
    };
    const placeholders = Object.keys(shipped).filter((name) => shipped[name]!.includes('replace-me') || (shipped[name] === '' && name in filled));
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

  it('ConfigMap values match the production defaults in config/', () => {
    const defaults = { ...(parse(read('config/default.yaml')) as Json), ...(parse(read('config/production.yaml')) as Json) };
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

describe('deploy/docker-compose.yml', () => {
  const compose = parse(read('deploy/docker-compose.yml')) as {
    services: Record<string, { environment?: Record<string, string | number | boolean | null> | string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: Json; build?: { context: string } }>;
  };
  const service = compose.services['otp-gateway']!;
  const environment: Record<string, string> = Array.isArray(service.environment)
    ? Object.fromEntries(service.environment.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]))
    : Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));

  it('builds the service from the repository and names only known variables', () => {
    expect(service.build?.context).toBe('..');
    expect(Object.keys(environment).length).toBeGreaterThan(0);
    for (const name of Object.keys(environment)) expect(KNOWN).toContain(name);
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

describe('deploy/grafana/otp-gateway-dashboard.json', () => {
  const dashboard = JSON.parse(read('deploy/grafana/otp-gateway-dashboard.json')) as Json;
  const defined = definedMetrics();

  it('reads the metric names from the source', () => {
    expect(defined.size).toBeGreaterThanOrEqual(5);
    expect(defined).toContain('otp_messages_total');
    // The check itself: an unknown name and a suffix on a known one.
    expect(unknownMetrics(['rate(otp_messages_sent_total[5m])', 'otp_delivery_latency_seconds_bucket'], defined)).toEqual([
      'otp_messages_sent_total',
    ]);
  });

  it('queries only series the service exports', () => {
    const expressions = dashboardExpressions(dashboard.panels).concat(dashboardExpressions(dashboard.templating));
    expect(expressions.length).toBeGreaterThanOrEqual(8);
    expect(unknownMetrics(expressions, defined)).toEqual([]);
    const referenced = new Set(expressions.flatMap((e) => [...e.matchAll(/otp_[a-z_]+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''))));
    for (const name of [
      'otp_verifications_started_total',
      'otp_checks_total',
      'otp_messages_total',
      'otp_deliveries_total',
      'otp_provider_circuit_state',
      'otp_delivery_latency_seconds',
      'otp_delivery_queue_jobs',
    ]) {
      expect(referenced).toContain(name);
    }
  });

  it('takes its data source as an import input', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' })]);
    expect(JSON.stringify(dashboard.panels)).toContain('${DS_PROMETHEUS}');
  });
});
