// A worker thread of the stream scenario: opens `count` SSE subscriptions to one run, answers 'connected' once all
// are, records each stdout line's delivery latency (the line's own wall-clock timestamp → the chunk holding it
// arrived here), and answers with the latencies and each subscription's outcome once every stream has closed.
// Several of these share the subscribers, so that 500 streams are not all read by one event loop.
import http from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

const { url, runId, bearer, count, lines } = workerData;
const now = () => performance.timeOrigin + performance.now();

const latencies = new Float64Array(count * lines);
let recorded = 0;

/** One subscriber; resolves once it saw the run running (so it is live), with a `closed` promise inside. */
function subscribe() {
  return new Promise((resolveConnected, rejectConnected) => {
    const state = { received: 0, final: false, error: null, closed: null };
    state.closed = new Promise((resolveClosed) => {
      const request = http.request(`${url}/api/v1/runs/${runId}/events`, {
        agent: false,
        headers: { authorization: `Bearer ${bearer}`, accept: 'text/event-stream' },
      });
      request.setTimeout(120_000, () => request.destroy(new Error('subscriber timed out')));
      request.on('error', (error) => {
        state.error = String(error);
        rejectConnected(error);
        resolveClosed();
      });
      request.on('response', (response) => {
        if (response.statusCode !== 200) {
          rejectConnected(new Error(`events: ${response.statusCode}`));
          response.resume();
          return;
        }
        response.setEncoding('utf8');
        let tail = '';
        let connected = false;
        response.on('data', (text) => {
          const at = now();
          // Only "line":"<index> <timestamp> …" is read: cheap enough for a million frames on a shared machine.
          const chunk = tail + text;
          const re = /"line":"\d+ (\d+\.\d+)/g;
          let match;
          let last = 0;
          while ((match = re.exec(chunk)) !== null) {
            if (recorded < latencies.length) latencies[recorded++] = at - Number(match[1]);
            state.received++;
            last = re.lastIndex;
          }
          if (!state.final && chunk.includes('"type":"status","data":{"status":"succeeded"')) state.final = true;
          tail = chunk.slice(Math.max(last, chunk.length - 200));
          if (!connected && chunk.includes('"status":"running"')) {
            connected = true;
            resolveConnected(state);
          }
        });
        response.on('end', resolveClosed);
        response.on('error', (error) => {
          state.error = String(error);
          resolveClosed();
        });
      });
      request.end();
    });
  });
}

const states = [];
// Connected in waves of 50, so the listen backlog is never the question.
for (let i = 0; i < count; i += 50) {
  states.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => subscribe()))));
}
parentPort.postMessage({ connected: true });
await Promise.all(states.map((state) => state.closed));
const samples = latencies.slice(0, recorded);
parentPort.postMessage(
  { samples, received: states.reduce((n, s) => n + s.received, 0), finals: states.filter((s) => s.final).length, errors: states.filter((s) => s.error).length },
  [samples.buffer],
);
