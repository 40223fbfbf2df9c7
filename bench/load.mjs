// autocannon with exact latencies: autocannon's own histogram has 1 ms resolution, so every response time it
// reports is collected here as well (bounded), and percentiles are taken from those.
import autocannon from 'autocannon';
import { cpuTime, percentile } from './lib.mjs';

const MAX_SAMPLES = 2_000_000;

/**
 * Drives `url` for `seconds` with `connections` clients. `request(i)` returns {method, path, headers, body} for the
 * i-th request (called per request). With `pid`, the CPU time that process used meanwhile is measured too.
 * Resolves {rps, p50, p99, mean, ok, other, cpuMs, samples}.
 */
export async function load({ url, connections, seconds, request, pid }) {
  let next = 0;
  const latencies = new Float64Array(MAX_SAMPLES);
  let count = 0;
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 30,
    requests: [{ setupRequest: (base) => ({ ...base, ...request(next++) }) }],
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300 && count < MAX_SAMPLES) latencies[count++] = responseTime;
  });
  const cpuBefore = pid ? cpuTime(pid) : NaN;
  const result = await instance;
  const cpuMs = pid ? cpuTime(pid) - cpuBefore : NaN;
  const samples = latencies.subarray(0, count);
  let sum = 0;
  for (const value of samples) sum += value;
  return {
    rps: result['2xx'] / (result.duration || seconds),
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    mean: count ? sum / count : NaN,
    ok: result['2xx'],
    other: result.non2xx + result.errors + result.timeouts,
    cpuMs,
    samples,
  };
}

/** Alternates the measured target and its reference `rounds` times (reference first), pooling each side's results. */
export async function sideBySide({ rounds, measure, reference, warmup }) {
  if (warmup) {
    await warmup.reference();
    await warmup.measure();
  }
  const sides = { reference: [], measured: [] };
  for (let round = 0; round < rounds; round++) {
    sides.reference.push(await reference());
    sides.measured.push(await measure());
  }
  return { reference: pool(sides.reference), measured: pool(sides.measured) };
}

function pool(results) {
  const all = new Float64Array(results.reduce((n, r) => n + r.samples.length, 0));
  let offset = 0;
  for (const r of results) {
    all.set(r.samples, offset);
    offset += r.samples.length;
  }
  const ok = results.reduce((n, r) => n + r.ok, 0);
  const cpuMs = results.reduce((n, r) => n + r.cpuMs, 0);
  return {
    rps: results.reduce((n, r) => n + r.rps, 0) / results.length,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    ok,
    other: results.reduce((n, r) => n + r.other, 0),
    /** Server CPU (user + system) per answered request, ms. */
    cpuPerRequest: cpuMs / ok,
    rounds: results.map((r) => ({ rps: Math.round(r.rps), p50: r.p50, p99: r.p99, ok: r.ok, other: r.other })),
  };
}
