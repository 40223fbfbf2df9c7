import { once } from 'node:events';
import { renameSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, disposeTestServer, startTestServer, waitFor, type TestDatabase, type TestServer } from './helpers/test-server.js';

// Health that means something: each indicator checks a real dependency.

const onPostgres = process.env.AUTOCODE_TEST_DB === 'postgres';

describe('health', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => disposeTestServer(server));

  it('answers liveness and readiness with every indicator up', async () => {
    expect((await server.request('GET', '/health/live')).json).toEqual({ status: 'ok' });
    const ready = await server.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json.status).toBe('ok');
    expect(Object.keys(ready.json.info).sort()).toEqual(['database', 'disk', 'draining', 'queue', 'recovery']);
    expect(ready.json.info.queue).toMatchObject({ status: 'up', adapter: 'in-process' });
    expect(ready.json.info.disk.freeMb).toBeGreaterThan(0);
  });

  it('guards the detailed report with an admin token', async () => {
    expect((await server.request('GET', '/health/detailed')).status).toBe(401);
    const user = await server.request('GET', '/health/detailed', { token: server.token('someone') });
    expect(user.status).toBe(403);
    expect(user.json.code).toBe('forbidden');
    const admin = await server.request('GET', '/health/detailed', { token: server.token('root', { admin: true }) });
    expect(admin.status).toBe(200);
    expect(admin.json).toMatchObject({
      status: 'healthy',
      role: 'all',
      node: 'test-node',
      headlessMode: false,
      activeRuns: 0,
      queuedRuns: 0,
      components: { database: { status: 'up' }, queue: { status: 'up' }, disk: { status: 'up' }, recovery: { status: 'up' }, draining: { status: 'up' } },
    });
    expect(admin.json.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(admin.json.uptimeSeconds).toBeGreaterThanOrEqual(0);
    // This server among the nodes, from the heartbeat it writes once it listens.
    const rootToken = server.token('root', { admin: true });
    const nodes = await waitFor(async () => {
      const report = await server.request('GET', '/health/detailed', { token: rootToken });
      return report.json.nodes.length > 0 ? report.json.nodes : undefined;
    }, 10_000, 'the heartbeat');
    expect(nodes).toEqual([expect.objectContaining({ name: 'test-node', role: 'all', capacity: 4, running: 0, version: admin.json.version })]);
  });

  (onPostgres ? it.skip : it)('turns readiness down while the SQLite database file is gone, and up when it is back; liveness stays up', async () => {
    const file = join(server.dataDir, 'autocode.db');
    renameSync(file, `${file}.away`);
    try {
      const down = await server.request('GET', '/health/ready');
      expect(down.status).toBe(503);
      expect(down.json.error.database.status).toBe('down');
      expect(down.json.info.disk.status).toBe('up');
      expect((await server.request('GET', '/health/live')).status).toBe(200);
    } finally {
      renameSync(`${file}.away`, file);
    }
    expect((await server.request('GET', '/health/ready')).status).toBe(200);
  });
});

describe('health with little disk, public detail and headless mode', () => {
  it('reports the disk down below HEALTH_MIN_FREE_MB, and serves the detailed report without a token when allowed', async () => {
    const server = await startTestServer({ env: { HEALTH_MIN_FREE_MB: '1000000', HEALTH_DETAILED_PUBLIC: 'true', HEADLESS_MODE: 'true' } });
    try {
      const ready = await server.request('GET', '/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.json.error.disk.message).toMatch(/below HEALTH_MIN_FREE_MB/);
      const detailed = await server.request('GET', '/health/detailed');
      expect(detailed.status).toBe(503);
      expect(detailed.json).toMatchObject({ status: 'unhealthy', headlessMode: true, components: { disk: { status: 'down' } } });
    } finally {
      await disposeTestServer(server);
    }
  });
});

/** A TCP relay the test can cut, standing between the server and PostgreSQL. */
async function relay(target: URL): Promise<{ port: number; cut(): void; restore(): Promise<void>; close(): void }> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect(Number(target.port || 5432), target.hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  };
  await listen();
  return {
    get port() {
      return port;
    },
    cut() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
    restore: listen,
    close() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

(onPostgres ? describe : describe.skip)('health on PostgreSQL', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => database.drop());

  it('turns readiness down while PostgreSQL is unreachable, and up when it is back; liveness stays up', async () => {
    const target = new URL(database.url!);
    const cable = await relay(target);
    const viaRelay = new URL(database.url!);
    viaRelay.hostname = '127.0.0.1';
    viaRelay.port = String(cable.port);
    const server = await startTestServer({ database: { url: viaRelay.toString(), drop: async () => {} } });
    try {
      expect((await server.request('GET', '/health/ready')).status).toBe(200);
      cable.cut();
      const down = await waitFor(async () => {
        const ready = await server.request('GET', '/health/ready');
        return ready.status === 503 ? ready : undefined;
      }, 15_000, 'readiness to go down');
      expect(down.json.error.database.status).toBe('down');
      expect((await server.request('GET', '/health/live')).status).toBe(200);
      await cable.restore();
      await waitFor(async () => (await server.request('GET', '/health/ready')).status === 200, 20_000, 'readiness to come back');
    } finally {
      cable.close();
      await server.close();
    }
  });
});
