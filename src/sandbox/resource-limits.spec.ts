import { describe, expect, it } from '@jest/globals';
import { combineLimits, prlimitOptions } from './resource-limits.js';

describe('resource limits', () => {
  const tier = { processes: 512, openFiles: 1024, fileSizeMb: 1024, addressSpaceMb: null };

  it('lets a profile lower the tier limits, never raise them', () => {
    expect(combineLimits(tier, { processes: 64, openFiles: 100_000, addressSpaceMb: 2048 })).toEqual({
      processes: 64,
      openFiles: 1024,
      fileSizeMb: 1024,
      addressSpaceMb: 2048,
    });
    expect(combineLimits(tier, {})).toEqual(tier);
  });

  it('gives prlimit soft and hard values in its units, the process limit only inside a sandbox', () => {
    const limits = { processes: 64, openFiles: 256, fileSizeMb: 8, addressSpaceMb: null };
    expect(prlimitOptions(limits, true)).toEqual(['--nproc=64:64', '--nofile=256:256', `--fsize=${8 * 1024 * 1024}:${8 * 1024 * 1024}`]);
    expect(prlimitOptions(limits, false)).not.toContain('--nproc=64:64');
    expect(prlimitOptions({ ...limits, addressSpaceMb: 1 }, false)).toContain(`--as=${1024 * 1024}:${1024 * 1024}`);
  });

  it('never asks for more than the server itself may have', () => {
    const [option] = prlimitOptions({ processes: null, openFiles: 2 ** 30, fileSizeMb: null, addressSpaceMb: null }, false);
    expect(Number(option!.split(':')[1])).toBeLessThan(2 ** 30);
  });
});
