// A program that uses the built package as an application would; the package spec compiles it
// with moduleResolution NodeNext and bundler. The @ts-expect-error lines check that the types are
// real: a wrong route, body or code must not compile.
import { AutocodeError, createClient, FINAL_STATUSES, type ProblemCode, type Quota, type Run, type RunEvent } from '@autocode/client';

const client = createClient({ baseUrl: 'http://127.0.0.1:8000', token: () => 'a token' });

export async function main(): Promise<string> {
  const run: Run = await client.submitRun({ agent: 'claude', prompt: 'Fix the failing test' }, { idempotencyKey: 'ci-42' });
  const events: RunEvent[] = [];
  for await (const event of client.followRun(run.id, { after: 0, signal: AbortSignal.timeout(60_000) })) events.push(event);
  const finished: Run = await client.waitForRun(run.id);
  const finalStatuses: readonly Run['status'][] = FINAL_STATUSES;

  const { data } = await client.GET('/api/v1/runs/{id}', { params: { path: { id: run.id } } });
  const workspace: string | null | undefined = data?.workspace;

  for await (const listed of client.listRuns({ status: 'running', limit: 50 })) void listed.id;
  const quota: Quota = await client.getQuota();
  const used: number = quota.daily.used;

  try {
    await client.cancelRun(run.id);
  } catch (error) {
    if (error instanceof AutocodeError && error.code === 'run_finished') return `${error.status} ${error.retryAfter ?? 0}`;
  }

  // @ts-expect-error: not a route of the API
  await client.GET('/api/v1/nowhere');
  // @ts-expect-error: a submit has no `agentName`
  await client.submitRun({ agentName: 'claude', prompt: 'x' });
  // @ts-expect-error: not a code the API answers
  const unknownCode: ProblemCode = 'no_such_code';

  return [events.length, finished.status, finalStatuses.length, workspace, used, unknownCode, await client.getLogs(run.id), await client.getDiff(run.id)].join(' ');
}
