import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { parse } from 'yaml';
import { validateEnvironment } from '../src/config/environment.js';
import { METRICS } from '../src/metrics/metric-names.js';
import { expect } from './jest/expect.js';
import { KINDS, loadManifests, typeCheckManifests } from './helpers/kubernetes.js';

// deploy/kubernetes/distributed: API replicas and workers on PostgreSQL and Redis, checked without
// a cluster against the API schemas, and against what the server needs of each role.

const DIR = join(import.meta.dirname, '..', 'deploy', 'kubernetes', 'distributed');
const manifests = loadManifests(DIR);

function named(kind: string, name: string): Record<string, any> {
  const found = manifests.find((manifest) => manifest.object.kind === kind && manifest.object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in ${DIR}`);
  return found.object;
}

/** The autocode container of a workload, with its environment as the server would see it. */
function server(workload: Record<string, any>): { env: Record<string, string>; container: Record<string, any> } {
  const container = workload.spec.template.spec.containers.find((candidate: { name: string }) => candidate.name === 'autocode');
  const configMap = named('ConfigMap', 'autocode-distributed-config');
  const secret = named('Secret', 'autocode-distributed-secrets');
  const env: Record<string, string> = {};
  for (const source of container.envFrom) {
    if (source.configMapRef) Object.assign(env, named('ConfigMap', source.configMapRef.name).data);
    if (source.secretRef) Object.assign(env, named('Secret', source.secretRef.name).stringData);
  }
  for (const variable of container.env) env[variable.name] = variable.value ?? `<${variable.valueFrom.fieldRef.fieldPath}>`;
  expect([configMap.metadata.name, secret.metadata.name]).toEqual(['autocode-distributed-config', 'autocode-distributed-secrets']);
  return { env, container };
}

describe('Kubernetes manifests for several nodes (deploy/kubernetes/distributed)', () => {
  it('are listed in their kustomization.yaml, validate against the API schemas and use no unknown field', () => {
    const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'));
    expect([...kustomization.resources].sort()).toEqual([...new Set(manifests.map((manifest) => manifest.file))].sort());
    for (const { file, object } of manifests) {
      const kind = KINDS[`${object.apiVersion} ${object.kind}`];
      expect(kind, `${file}: unexpected ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new kind!.model(object).validate(), `${file}: ${object.kind}`).not.toThrow();
    }
    expect(typeCheckManifests(manifests, DIR)).toEqual([]);
  });

  it('runs two API replicas with ROLE=api and workers with ROLE=worker, each node named after its pod, on PostgreSQL and Redis', () => {
    const api = named('Deployment', 'autocode-api');
    const workers = named('StatefulSet', 'autocode-worker');
    expect(api.spec.replicas).toBe(2);
    for (const [workload, role] of [[api, 'api'], [workers, 'worker']] as const) {
      const { env } = server(workload);
      expect(env).toMatchObject({ ROLE: role, NODE_NAME: '<metadata.name>', HOST: '0.0.0.0', PORT: '8000', DATA_DIR: '/data' });
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\//);
      expect(env.REDIS_URL).toBe('redis://autocode-redis:6379');
      // What the server would accept at start (the secret's placeholders are long enough to pass).
      expect(() => validateEnvironment({ ...env, NODE_NAME: `${role}-0` })).not.toThrow();
    }
    expect(workers.spec.volumeClaimTemplates.map((claim: { metadata: { name: string } }) => claim.metadata.name)).toEqual(['data']);
    expect(named('Service', 'autocode-worker').spec.clusterIP).toBe('None');
    expect(workers.spec.serviceName).toBe('autocode-worker');
  });

  it('sends the API Service to the API pods only, and Redis to Redis', () => {
    const api = named('Deployment', 'autocode-api');
    expect(named('Service', 'autocode-api').spec.selector).toEqual(api.spec.template.metadata.labels);
    expect(named('Service', 'autocode-redis').spec.selector).toEqual(named('Deployment', 'autocode-redis').spec.template.metadata.labels);
    expect(named('PodDisruptionBudget', 'autocode-api').spec.selector.matchLabels).toEqual(api.spec.selector.matchLabels);
  });

  it('scales the workers on the queued runs the server exports', () => {
    const hpa = named('HorizontalPodAutoscaler', 'autocode-worker');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'autocode-worker' });
    expect(hpa.spec.metrics.map((metric: { external: { metric: { name: string } } }) => metric.external.metric.name)).toEqual(['autocode_runs_queued']);
    expect(Object.values(METRICS)).toContain('autocode_runs_queued');
  });
});
