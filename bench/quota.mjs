// Admission benchmark: POST /api/v1/runs under 50 concurrent clients, each admission one locked
// transaction. SQLite with one server, and PostgreSQL with two replicas sharing the database.
// Usage: npm run bench:quota [-- --seconds 10] [-- --db sqlite|postgres|both]
import autocannon from 'autocannon';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { api, createDatabase, markdownTable, ROOT, startServer, token } from './lib.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, db: { type: 'string', default: 'both' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = 50;
const BODY = JSON.stringify({ agent: 'noop', prompt: 'benchmark admission' });
const UNLIMITED = { concurrent: 10_000, daily: 1_000_000, queued: 100_000 };

/** Drives the servers for SECONDS with CONNECTIONS clients split over them; `users` spreads load over that many users. */
async function drive(urls, users) {
  const bearers = Array.from({ length: users }, (_, i) => token(`bench-${i}`));
  for (const [i, bearer] of bearers.entries()) {
    await api(urls[0], 'GET', '/api/v1/runs', bearer);
    await api(urls[0], 'PUT', `/api/v1/admin/users/bench-${i}/quota`, token('root', true), UNLIMITED);
  }
  let next = 0;
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url: `${url}/api/v1/runs`,
        connections: CONNECTIONS / urls.length,
        duration: SECONDS,
        requests: [
          {
            method: 'POST',
            setupRequest: (request) => ({
              ...request,
              headers: { 'content-type': 'application/json', authorization: `Bearer ${bearers[next++ % bearers.length]}` },
              body: BODY,
            }),
          },
        ],
      }),
    ),
  );
  const accepted = results.reduce((sum, r) => sum + r['2xx'], 0);
  const other = results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0);
  return {
    'admissions/s': Math.round(accepted / SECONDS),
    'p50 ms': Math.max(...results.map((r) => r.latency.p50)),
    'p99 ms': Math.max(...results.map((r) => r.latency.p99)),
    refused: other,
  };
}

const rows = [];
if (values.db === 'sqlite' || values.db === 'both') {
  const server = await startServer({ ROLE: 'api' });
  try {
    rows.push({ setup: 'SQLite, 1 server', users: 1, ...(await drive([server.url], 1)) });
    rows.push({ setup: 'SQLite, 1 server', users: 50, ...(await drive([server.url], 50)) });
  } finally {
    await server.stop();
  }
}
if (values.db === 'postgres' || values.db === 'both') {
  const database = await createDatabase();
  const replicas = [];
  try {
    replicas.push(await startServer({ ROLE: 'api', DATABASE_URL: database.url }));
    replicas.push(await startServer({ ROLE: 'api', DATABASE_URL: database.url }));
    const urls = replicas.map((r) => r.url);
    rows.push({ setup: 'PostgreSQL, 2 replicas', users: 1, ...(await drive(urls, 1)) });
    rows.push({ setup: 'PostgreSQL, 2 replicas', users: 50, ...(await drive(urls, 50)) });
  } finally {
    await Promise.all(replicas.map((r) => r.stop()));
    await database.drop();
  }
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
console.log(`\nAdmission (POST /api/v1/runs → 202), ${CONNECTIONS} connections, ${SECONDS} s each, on ${machine}\n`);
console.log(markdownTable(rows, ['setup', 'users', 'admissions/s', 'p50 ms', 'p99 ms', 'refused']));
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
const file = join(ROOT, 'bench', 'results', `quota-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ machine, connections: CONNECTIONS, seconds: SECONDS, rows }, null, 2));
console.log(`\nwritten ${file}`);
