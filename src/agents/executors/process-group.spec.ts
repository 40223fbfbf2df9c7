import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from '@jest/globals';
import { groupMembers, terminateGroup, terminateGroups } from './process-group.js';

const HOLD = ['-e', 'setInterval(() => {}, 1000)'];
const HOLD_IGNORING_SIGTERM = ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"];

describe('process groups', () => {
  const started: number[] = [];
  afterEach(() => {
    for (const pid of started.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  /** A process in a session (and group) of its own, as agent tools start their commands. */
  async function startDetached(env: Record<string, string>, args = HOLD): Promise<number> {
    const child = spawn(process.execPath, args, { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, ...env } });
    await once(child, 'spawn');
    child.unref();
    started.push(child.pid!);
    return child.pid!;
  }

  it('ends the group and, given the run id, the processes started for the run outside it', async () => {
    const leader = await startDetached({ AUTOCODE_RUN_ID: 'run-1' });
    const escaped = await startDetached({ AUTOCODE_RUN_ID: 'run-1' });
    const otherRun = await startDetached({ AUTOCODE_RUN_ID: 'run-2' });
    expect(await groupMembers(leader)).toEqual([leader]);
    expect((await groupMembers(leader, 'run-1')).sort()).toEqual([leader, escaped].sort());

    await terminateGroup(leader, 1_000, 'run-1');
    expect(await groupMembers(leader, 'run-1')).toEqual([]);
    expect(await groupMembers(otherRun)).toEqual([otherRun]);
  });

  it('ends several groups that ignore SIGTERM within one grace period, not one each', async () => {
    const graceMs = 2_000;
    const leaders = await Promise.all(['run-a', 'run-b', 'run-c'].map((runId) => startDetached({ AUTOCODE_RUN_ID: runId }, HOLD_IGNORING_SIGTERM)));
    const escaped = await startDetached({ AUTOCODE_RUN_ID: 'run-b' }, HOLD_IGNORING_SIGTERM);
    const bystander = await startDetached({ AUTOCODE_RUN_ID: 'run-d' });
    // Node installs its SIGTERM handler a moment after it starts.
    await new Promise((resolve) => setTimeout(resolve, 500));

    const startedAt = Date.now();
    await terminateGroups([{ pgid: leaders[0]!, runId: 'run-a' }, { pgid: leaders[1]!, runId: 'run-b' }, { pgid: null, runId: 'run-c' }], graceMs);
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(graceMs);
    expect(elapsed).toBeLessThan(2 * graceMs);
    for (const [index, leader] of leaders.entries()) expect(await groupMembers(leader, `run-${'abc'[index]}`)).toEqual([]);
    expect(await groupMembers(escaped)).toEqual([]);
    expect(await groupMembers(bystander)).toEqual([bystander]);
  });
});
