// The whole-path benchmark: each scenario starts what it needs on 127.0.0.1, measures the server next to its
// reference in the same run, stops everything it started (also on failure or Ctrl-C), and adds rows to one table.
//
// Usage: npm run bench [-- SCENARIO…] [--db sqlite|postgres] [--seconds 5] [--rounds 2] [--runs 2000]
//                      [--subscribers 500] [--subscriber-threads 2] [--lines 2000] [--samples 40] [--profile] [--trace]
//                      [--sandbox none|bwrap] [--redis]
// --profile: every server writes a V8 CPU profile under bench/results/ (see bench/profile-summary.mjs).
// --trace: dispatch also records when the server calls spawn() (bench/trace-spawn.mjs preloaded).
// --sandbox: how the servers run agents (SANDBOX); `none` by default, so that the figures measure the server against
// a raw spawn; `bwrap` measures what the bubblewrap sandbox adds.
// Scenarios: submit dispatch throughput read stream webhooks startup memory (default: all of them), and `queries`
// (SQL statements per operation, its own table; not part of the default set), and `cross-node` (one API and two
// worker nodes, with and without Redis; needs --db postgres). --redis adds cross-node to the scenarios run.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanupAll, createDatabase, machine, markdownTable, ROOT, startServer } from './lib.mjs';

const SCENARIOS = ['submit', 'dispatch', 'throughput', 'read', 'stream', 'webhooks', 'startup', 'memory'];
const EXTRA = ['queries', 'cross-node'];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    db: { type: 'string', default: 'sqlite' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '2000' },
    subscribers: { type: 'string', default: '500' },
    'subscriber-threads': { type: 'string', default: '2' },
    lines: { type: 'string', default: '2000' },
    samples: { type: 'string', default: '40' },
    profile: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    sandbox: { type: 'string', default: 'none' },
    redis: { type: 'boolean', default: false },
  },
});
const chosen = positionals.length > 0 ? positionals : [...SCENARIOS];
if (values.redis && !chosen.includes('cross-node')) chosen.push('cross-node');
for (const name of chosen) {
  if (!SCENARIOS.includes(name) && !EXTRA.includes(name)) {
    console.error(`unknown scenario "${name}"; known: ${[...SCENARIOS, ...EXTRA].join(', ')}`);
    process.exit(2);
  }
}
if (values.db !== 'sqlite' && values.db !== 'postgres') {
  console.error('--db is sqlite or postgres');
  process.exit(2);
}
if (values.sandbox !== 'none' && values.sandbox !== 'bwrap') {
  console.error('--sandbox is none or bwrap');
  process.exit(2);
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const resultsDir = join(ROOT, 'bench', 'results');
mkdirSync(resultsDir, { recursive: true });

// A private copy of dist/ (with the package.json beside it, as in the repository): other processes (test suites)
// rebuild dist/ while this runs.
// BENCH_DIST set by the caller names a build to use as it is.
if (!process.env.BENCH_DIST) {
  const copyRoot = join(resultsDir, `.build-${process.pid}`);
  cpSync(join(ROOT, 'dist'), join(copyRoot, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(copyRoot, 'package.json'));
  process.env.BENCH_DIST = join(copyRoot, 'dist');
  process.on('exit', () => rmSync(copyRoot, { recursive: true, force: true }));
}

const profileDir = values.profile ? join(resultsDir, `profiles-${stamp}`) : null;

/** What each scenario gets: options, and a server on the chosen database that is always stopped afterwards. */
const ctx = {
  db: values.db,
  seconds: Number(values.seconds),
  rounds: Number(values.rounds),
  runs: Number(values.runs),
  subscribers: Number(values.subscribers),
  subscriberThreads: Number(values['subscriber-threads']),
  lines: Number(values.lines),
  samples: Number(values.samples),
  profileDir,
  trace: values.trace,
  sandbox: values.sandbox,
  /** A fresh database URL for PostgreSQL (dropped with `release`), or nothing for SQLite. */
  async database() {
    if (values.db !== 'postgres') return { env: {}, release: async () => {} };
    const database = await createDatabase();
    return { env: { DATABASE_URL: database.url }, release: database.drop };
  },
  async withServer(name, env, options, work) {
    const database = await ctx.database();
    const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, name)}`, '--cpu-prof-name=server.cpuprofile'] : [];
    let server;
    try {
      server = await startServer({ SANDBOX: values.sandbox, ...database.env, ...env }, { ...options, nodeArgs: [...nodeArgs, ...(options?.nodeArgs ?? [])] });
      return await work(server);
    } finally {
      await server?.stop();
      await database.release();
    }
  },
};

const interrupted = async (signal) => {
  console.error(`\n${signal}: stopping everything started`);
  await cleanupAll();
  process.exit(130);
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

const env = machine();
const startedAt = new Date().toISOString();
console.log(`Benchmarks on ${env.nproc} × ${env.cpu}, Node ${env.node}, ${values.db === 'postgres' ? 'PostgreSQL' : 'SQLite'}: ${chosen.join(', ')}`);

/** The machine's load average: the other work competing for the same cores (this is a shared machine). */
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const rows = [];
const details = {};
const loads = {};
const failures = [];
for (const name of chosen) {
  const started = Date.now();
  loads[name] = loadAverage();
  process.stdout.write(`\n· ${name} (load average ${loads[name]}) … `);
  try {
    const scenario = await import(`./scenarios/${name}.mjs`);
    const result = await scenario.run(ctx);
    rows.push(...result.rows.map((row) => ({ scenario: name, ...row })));
    details[name] = result.details ?? {};
    process.stdout.write(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  } catch (error) {
    failures.push({ scenario: name, error: error.stack ?? String(error) });
    rows.push({ scenario: name, figure: 'FAILED', measured: String(error.message).split('\n')[0].slice(0, 200) });
    process.stdout.write(`FAILED: ${error.message.split('\n')[0]}`);
  } finally {
    await cleanupAll();
  }
}

const title = `${values.db === 'postgres' ? 'PostgreSQL' : 'SQLite'} · ${env.nproc} × ${env.cpu} · Node ${env.node} · ${startedAt.slice(0, 16)}Z · load average at the start of each scenario: ${Object.entries(loads).map(([name, load]) => `${name} ${load.split(' ')[0]}`).join(', ')}`;
console.log(`\n\n${title}\n`);
console.log(markdownTable(rows, ['scenario', 'figure', 'measured', 'reference', 'ratio', 'target', 'met']));
const file = join(resultsDir, `bench-${values.db}-${stamp}.json`);
writeFileSync(
  file,
  JSON.stringify({ startedAt, finishedAt: new Date().toISOString(), machine: env, db: values.db, options: values, scenarios: chosen, loadAverage: loads, rows, details, failures }, null, 2),
);
console.log(`\nwritten ${file}${profileDir ? `\nCPU profiles under ${profileDir}` : ''}`);
for (const failure of failures) console.error(`\n${failure.scenario} failed:\n${failure.error}`);
process.exit(failures.length > 0 ? 1 : 0);
