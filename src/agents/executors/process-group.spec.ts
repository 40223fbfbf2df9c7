import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from '@jest/globals';
import { groupMembers, terminateGroup } from './process-group.js';

const HOLD = ['-e', 'setInterval(() => {}, 1000)'];

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
  async function startDetached(env: Record<string, string>): Promise<number> {
    const child = spawn(process.execPath, HOLD, { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, ...env } });
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
});
