import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IService } from 'kubernetes-models/v1/Service';
import { afterAll, describe, it } from '@jest/globals';
import { expect } from './jest/expect.js';
import { KINDS, loadManifests, typeCheckManifests } from './helpers/kubernetes.js';
import { parse, parseAllDocuments } from 'yaml';
import { validateEnvironment } from '../src/config/environment.js';

/**
 * Checks the deployment files under deploy/ and the Dockerfile without a cluster, a Docker engine
 * or a running systemd: the Kubernetes manifests against the API schemas, the settings that have
 * to agree with the server (probe paths, ports, shutdown deadline, environment), the systemd unit
 * with systemd-analyze, and the Dockerfile's user, entrypoint and command.
 */

const ROOT = join(import.meta.dirname, '..');
const K8S_DIR = join(ROOT, 'deploy', 'kubernetes');
const UNIT = join(ROOT, 'deploy', 'systemd', 'autocode.service');

/** Server defaults (src/config/configuration.ts), used when the ConfigMap leaves a value out. */
const DEFAULT_SHUTDOWN_TIMEOUT_SECONDS = 30;
const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;

const manifests = loadManifests(K8S_DIR);

function only<T>(kind: string): T & Record<string, any> {
  const found = manifests.filter((manifest) => manifest.object.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0]!.object as T & Record<string, any>;
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('are the kinds the server needs, once each, listed in kustomization.yaml', () => {
    const kinds = manifests.map((manifest) => manifest.object.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Secret', 'Service']);
    const kustomization = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Record<string, any>;
    expect(kustomization).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' });
    const files = [...new Set(manifests.map((manifest) => manifest.file))].sort();
    expect([...(kustomization.resources as string[])].sort()).toEqual(files);
  });

  it('validate against the Kubernetes API schemas', () => {
    for (const { file, object } of manifests) {
      const kind = KINDS[`${object.apiVersion} ${object.kind}`];
      expect(kind, `${file}: unexpected ${object.apiVersion} ${object.kind}`).toBeDefined();
      expect(() => new kind!.model(object).validate(), `${file}: ${object.kind}`).not.toThrow();
      expect(object.metadata?.name, `${file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('use no field the Kubernetes API does not know', () => {
    expect(typeCheckManifests(manifests, 'deploy/kubernetes')).toEqual([]);
  });

  const hasKubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  if (!hasKubectl) console.warn('deploy.e2e-spec: kubectl is not on PATH, so `kubectl kustomize deploy/kubernetes` is not checked');
  (hasKubectl ? it : it.skip)('build with kubectl kustomize', () => {
    const built = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', timeout: 30_000 });
    expect(built.status, built.stderr).toBe(0);
    const kinds = parseAllDocuments(built.stdout).map((document) => (document as { toJS(): any }).toJS()?.kind);
    expect(kinds).toHaveLength(manifests.length);
  });

  describe('agree with the server', () => {
    const deployment = only<IDeployment>('Deployment');
    const service = only<IService>('Service');
    const configMap = only<IConfigMap>('ConfigMap');
    const secret = only<ISecret>('Secret');
    const claim = only<IPersistentVolumeClaim>('PersistentVolumeClaim');
    const budget = only<IPodDisruptionBudget>('PodDisruptionBudget');
    const pod = deployment.spec!.template.spec!;
    const container = pod.containers.find((candidate) => candidate.name === 'autocode') ?? pod.containers[0]!;
    const env = Object.fromEntries((container.env ?? []).map((variable) => [variable.name, variable.value]));

    it('runs one replica, recreated rather than rolled (SQLite on a ReadWriteOnce volume)', () => {
      expect(deployment.spec!.replicas).toBe(1);
      expect(deployment.spec!.strategy?.type).toBe('Recreate');
      expect(claim.spec!.accessModes).toEqual(['ReadWriteOnce']);
    });

    it('probes /health/live and /health/ready on the named port that the Service targets and PORT sets', () => {
      const http = container.ports!.find((port) => port.name === 'http');
      expect(http?.containerPort).toBe(8000);
      expect(env.PORT).toBe(String(http?.containerPort));
      expect(env.HOST).toBe('0.0.0.0');
      expect(container.livenessProbe?.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
      expect(container.readinessProbe?.httpGet).toMatchObject({ path: '/health/ready', port: 'http' });
      expect(container.startupProbe?.httpGet).toMatchObject({ path: '/health/live', port: 'http' });
      expect(service.spec!.type ?? 'ClusterIP').toBe('ClusterIP');
      expect(service.spec!.ports).toEqual([expect.objectContaining({ name: 'http', port: 8000, targetPort: 'http' })]);
    });

    it('selects the pods with the Service and the disruption budget', () => {
      const labels = deployment.spec!.template.metadata!.labels!;
      expect(labels).toMatchObject(deployment.spec!.selector.matchLabels!);
      expect(labels).toMatchObject(service.spec!.selector!);
      expect(labels).toMatchObject(budget.spec!.selector!.matchLabels!);
      // One replica: a budget of minAvailable 1 would block node drains for good.
      expect(budget.spec!.minAvailable).toBeUndefined();
      expect(budget.spec!.maxUnavailable).toBe(1);
    });

    it('gives the shutdown more time than the server needs, after a preStop pause', () => {
      const timeout = Number(configMap.data?.SHUTDOWN_TIMEOUT_SECONDS ?? DEFAULT_SHUTDOWN_TIMEOUT_SECONDS);
      const grace = Number(configMap.data?.SHUTDOWN_GRACE_SECONDS ?? DEFAULT_SHUTDOWN_GRACE_SECONDS);
      const preStop = container.lifecycle?.preStop;
      expect(preStop?.exec?.command ?? preStop?.sleep, 'a preStop hook').toBeDefined();
      const pause = preStop?.sleep ? Number(preStop.sleep.seconds) : Number(preStop!.exec!.command!.at(-1));
      expect(pause).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(40);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(pause + timeout + grace);
    });

    it('runs as a non-root user on a read-only root filesystem, with a writable /tmp and /data', () => {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(container.securityContext?.privileged ?? false).toBe(false);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(container.resources?.requests).toBeDefined();
      expect(container.resources?.limits?.memory).toBeDefined();
      const mounts = Object.fromEntries((container.volumeMounts ?? []).map((mount) => [mount.mountPath, mount.name]));
      const volumes = Object.fromEntries((pod.volumes ?? []).map((volume) => [volume.name, volume]));
      expect(env.DATA_DIR).toBe('/data');
      expect(volumes[mounts['/data']!]?.persistentVolumeClaim?.claimName).toBe(claim.metadata!.name);
      expect(volumes[mounts['/tmp']!]?.emptyDir).toBeDefined();
    });

    it('reads the ConfigMap and the Secret, whose values the server accepts', () => {
      const sources = container.envFrom ?? [];
      expect(sources.some((source) => source.configMapRef?.name === configMap.metadata!.name)).toBe(true);
      expect(sources.some((source) => source.secretRef?.name === secret.metadata!.name)).toBe(true);
      // Later sources win in Kubernetes, and `env` wins over `envFrom`: the same order here.
      const environment = { ...configMap.data, ...secret.stringData, ...env } as Record<string, string>;
      expect(() => validateEnvironment(environment)).not.toThrow();
      expect(Object.keys(configMap.data ?? {}).filter((key) => /SECRET|PASSWORD|TOKEN|_KEY$|DATABASE_URL/.test(key))).toEqual([]);
    });

    it('ships the Secret as a template: placeholders for JWT_SECRET and DATABASE_URL, no values', () => {
      expect(Object.keys(secret.stringData ?? {})).toEqual(expect.arrayContaining(['JWT_SECRET', 'DATABASE_URL']));
      expect(secret.data ?? {}).toEqual({});
      for (const [key, value] of Object.entries(secret.stringData ?? {})) expect(value, `${key} must stay empty in the repository`).toBe('');
      expect(readFileSync(join(K8S_DIR, 'secret.yaml'), 'utf8')).toMatch(/REPLACE/);
    });
  });
});

const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasSystemdAnalyze) {
  console.warn('deploy.e2e-spec: systemd-analyze is not on PATH (systemd not installed), so the systemd unit is not verified nor scored');
}

describe('systemd unit (deploy/systemd/autocode.service)', () => {
  const unit = readFileSync(UNIT, 'utf8');
  const scratch = mkdtempSync(join(tmpdir(), 'autocode-unit-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  (hasSystemdAnalyze ? it : it.skip)('passes systemd-analyze verify', () => {
    // verify needs the programs of Exec*= lines to exist and be executable (not their arguments,
    // nor User=, nor WorkingDirectory=), and the man: pages of Documentation= to resolve. So the
    // copy runs this Node; /opt/autocode/dist/cli.js does not have to exist.
    const copy = join(scratch, 'autocode.service');
    writeFileSync(copy, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
    const args = ['verify'];
    if (spawnSync('man', ['-w', '5', 'systemd.service'], { encoding: 'utf8' }).status !== 0) {
      console.warn('deploy.e2e-spec: the systemd man pages are not installed, so Documentation=man: is not checked (--man=no)');
      args.push('--man=no');
    }
    const verify = spawnSync('systemd-analyze', [...args, copy], { encoding: 'utf8', timeout: 30_000 });
    expect(verify.status, verify.stderr).toBe(0);
    // Unknown keys and bad values are only warnings ("…, ignoring.") with exit status 0.
    const warnings = verify.stderr.split('\n').filter((line) => line.includes(copy) || line.startsWith('autocode.service'));
    expect(warnings).toEqual([]);
  });

  (hasSystemdAnalyze ? it : it.skip)('scores 2.0 or less with systemd-analyze security', () => {
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', UNIT], { encoding: 'utf8', timeout: 30_000 });
    expect(security.status, security.stderr).toBe(0);
    const score = /Overall exposure level for autocode\.service: (\d+(?:\.\d+)?)/.exec(security.stdout);
    expect(score, security.stdout).not.toBeNull();
    console.info(`deploy.e2e-spec: systemd-analyze security scores autocode.service ${score![1]}`);
    expect(Number(score![1])).toBeLessThanOrEqual(2.0);
  });

  (hasSystemdAnalyze ? it : it.skip)('with the sandbox drop-in, verifies and scores 2.5 or less, relaxing only what bubblewrap needs', () => {
    const dropIn = readFileSync(join(dirname(UNIT), 'sandbox.conf'), 'utf8');
    const settings = dropIn.split('\n').filter((line) => line !== '' && !line.startsWith('#') && line !== '[Service]');
    expect(settings.map((line) => line.split('=')[0]).sort()).toEqual(['ProcSubset', 'ProtectKernelLogs', 'ProtectKernelTunables', 'RestrictNamespaces', 'SystemCallFilter']);
    // What systemd does with a drop-in: its lines come after the unit's own.
    const merged = join(scratch, 'sandboxed', 'autocode.service');
    mkdirSync(dirname(merged), { recursive: true });
    writeFileSync(merged, unit.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `).replace('[Install]', `${settings.join('\n')}\n\n[Install]`));
    const verify = spawnSync('systemd-analyze', ['verify', '--man=no', merged], { encoding: 'utf8', timeout: 30_000 });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr.split('\n').filter((line) => line.includes(merged))).toEqual([]);
    const security = spawnSync('systemd-analyze', ['security', '--offline=true', merged], { encoding: 'utf8', timeout: 30_000 });
    const score = /Overall exposure level for autocode\.service: (\d+(?:\.\d+)?)/.exec(security.stdout);
    expect(score, security.stdout).not.toBeNull();
    console.info(`deploy.e2e-spec: with the sandbox drop-in, systemd-analyze security scores autocode.service ${score![1]}`);
    expect(Number(score![1])).toBeLessThanOrEqual(2.5);
  });

  it('reloads with SIGHUP, waits out the server shutdown, and leaves W^X off for V8', () => {
    expect(unit).toMatch(/^ExecReload=\S*kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^KillMode=mixed$/m);
    const stop = Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)?.[1]);
    expect(stop).toBeGreaterThan(DEFAULT_SHUTDOWN_TIMEOUT_SECONDS + DEFAULT_SHUTDOWN_GRACE_SECONDS);
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=/m);
    expect(unit).toMatch(/MemoryDenyWriteExecute.*deliberately/);
    expect(unit).not.toMatch(/^Documentation=.*https?:/m);
  });
});

/** Instructions of a Dockerfile, continuation lines joined and comments dropped, split by stage. */
function dockerfileStages(text: string): { instruction: string; args: string }[][] {
  const stages: { instruction: string; args: string }[][] = [];
  const logical = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of logical) {
    const [, instruction, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const entry = { instruction: instruction!.toUpperCase(), args: args!.trim() };
    if (entry.instruction === 'FROM') stages.push([]);
    stages.at(-1)?.push(entry);
  }
  return stages;
}

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const stages = dockerfileStages(text);
  const runtime = stages.at(-1)!;
  const last = (instruction: string) => runtime.filter((entry) => entry.instruction === instruction).at(-1)?.args;

  it('builds in one stage and runs from a slim Debian Node image in another', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/node:20-bookworm-slim/);
    const build = stages.slice(0, -1).flat().map((entry) => entry.args).join('\n');
    expect(build).toMatch(/npm ci/);
    expect(build).toMatch(/npm run build/);
    expect(build).toMatch(/python3/);
    const runtimeRuns = runtime.filter((entry) => entry.instruction === 'RUN').map((entry) => entry.args).join('\n');
    expect(runtimeRuns, 'the runtime stage compiles nothing').not.toMatch(/npm (ci|install)|g\+\+/);
    expect(runtime.some((entry) => entry.instruction === 'COPY' && /--from=\S+ \S*node_modules/.test(entry.args))).toBe(true);
  });

  it('runs as a non-root user', () => {
    const user = last('USER');
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(user).toMatch(/^10001(:10001)?$/);
  });

  it('starts tini as PID 1 and `node dist/cli.js serve` under it', () => {
    expect(runtime.some((entry) => entry.instruction === 'RUN' && /apt-get install .*\btini\b/.test(entry.args))).toBe(true);
    const entrypoint = JSON.parse(last('ENTRYPOINT')!) as string[];
    expect(entrypoint[0]).toMatch(/(^|\/)tini$/);
    expect(entrypoint.at(-1)).toBe('--');
    expect(JSON.parse(last('CMD')!)).toEqual(['node', '--max-semi-space-size=4', 'dist/cli.js', 'serve']);
  });

  it('listens on 0.0.0.0:8000 and keeps its state in /data', () => {
    expect(last('EXPOSE')).toBe('8000');
    const env = runtime.filter((entry) => entry.instruction === 'ENV').map((entry) => entry.args).join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bDATA_DIR=\/data\b/);
  });

  it('keeps local state and secrets out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split(/\r?\n/).map((line) => line.trim());
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', '.git', 'bench/results', 'coverage', '.env']));
  });
});
