import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** What the proxy does with one event-stream connection: cut it after so many bytes of the answer, or answer 503 itself. */
export type Step = number | 'unavailable';

const UNAVAILABLE = JSON.stringify({ type: 'https://autocode.dev/problems/shutting-down', title: 'Service Unavailable', status: 503, detail: 'the server is shutting down', code: 'shutting_down' });

export interface Proxy {
  url: string;
  /** The request heads of the event-stream connections, in order. */
  streams: string[];
  /** When each event-stream connection arrived. */
  arrivals: number[];
  /** When the first cut happened. */
  firstCutAt: number | null;
  close(): Promise<void>;
}

/**
 * Forwards 127.0.0.1 connections to the server. The n-th event-stream connection goes as `plan[n]`
 * says: destroyed both ways once that many bytes of the answer have passed, or answered 503
 * `shutting_down` with `Retry-After: 1`; later ones are left alone.
 */
export async function startProxy(target: string, plan: Step[]): Promise<Proxy> {
  const { port: targetPort } = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: Proxy = { url: '', streams: [], arrivals: [], firstCutAt: null, close: async () => {} };
  const server: Server = createServer((client) => {
    const upstream = connect(Number(targetPort), '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    let budget = Infinity;
    // Each request on the connection is looked at (a client reuses a kept-alive connection for
    // the event stream after other requests).
    client.on('data', (chunk: Buffer) => {
      const head = chunk.toString('latin1');
      if (/^(?:GET|POST|PUT|DELETE|PATCH|HEAD) /.test(head)) {
        if (/^accept: text\/event-stream/im.test(head)) {
          const step = plan[proxy.streams.length] ?? Infinity;
          proxy.streams.push(head);
          proxy.arrivals.push(Date.now());
          if (step === 'unavailable') {
            upstream.destroy();
            client.end(
              'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\nretry-after: 1\r\n' +
                `content-length: ${Buffer.byteLength(UNAVAILABLE)}\r\nconnection: close\r\n\r\n${UNAVAILABLE}`,
            );
            return;
          }
          budget = step;
        }
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (chunk.length < budget) {
        budget -= chunk.length;
        client.write(chunk);
        return;
      }
      client.write(chunk.subarray(0, budget));
      proxy.firstCutAt ??= Date.now();
      client.destroy();
      upstream.destroy();
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  proxy.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
    await once(server, 'close');
  };
  return proxy;
}
