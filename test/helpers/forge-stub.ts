import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForgeStubRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  // Tests read arbitrary members of the JSON the server sent.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface ForgeStub {
  url: string;
  requests: ForgeStubRequest[];
  /** The next answers, in order; once they are used up, the forge's usual 201. */
  answers: { status: number; body: unknown }[];
  close(): Promise<void>;
}

/**
 * A stand-in for GitHub's REST API (`POST /repos/{owner}/{repo}/pulls` → 201 `{number, html_url}`)
 * or GitLab's (`POST /projects/:id/merge_requests` → 201 `{iid, web_url}`) on 127.0.0.1, numbering
 * what it opens from 1 and recording every request.
 */
export async function startForgeStub(kind: 'github' | 'gitlab'): Promise<ForgeStub> {
  const requests: ForgeStubRequest[] = [];
  const answers: { status: number; body: unknown }[] = [];
  let opened = 0;
  const server: Server = createServer((request, response) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => {
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
      requests.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body });
      const next = answers.shift();
      if (next) {
        response.writeHead(next.status, { 'content-type': 'application/json' }).end(JSON.stringify(next.body));
        return;
      }
      const pulls = kind === 'github' ? /^\/api\/v3\/repos\/[^/]+\/[^/]+\/pulls$/ : /^\/api\/v4\/projects\/[^/]+\/merge_requests$/;
      if (request.method !== 'POST' || !pulls.test(request.url ?? '')) {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Not Found' }));
        return;
      }
      opened += 1;
      const answer = kind === 'github' ? { number: opened, html_url: `https://github.example.com/pull/${opened}` } : { iid: opened, web_url: `https://gitlab.example.com/merge_requests/${opened}` };
      response.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answers,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
