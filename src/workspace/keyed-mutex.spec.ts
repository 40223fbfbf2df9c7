import { describe, expect, it } from '@jest/globals';
import { KeyedMutex } from './keyed-mutex.js';

describe('KeyedMutex', () => {
  it('runs work of one key one at a time, of different keys at once, and forgets idle keys', async () => {
    const locks = new KeyedMutex();
    const log: string[] = [];
    const step = (key: string, name: string, ms: number) =>
      locks.runExclusive(key, async () => {
        log.push(`${name} start`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        log.push(`${name} end`);
      });
    await Promise.all([step('a', 'a1', 30), step('a', 'a2', 0), step('b', 'b1', 10)]);
    expect(log.indexOf('a1 end')).toBeLessThan(log.indexOf('a2 start'));
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
    expect(locks.size).toBe(0);
  });

  it('releases the key when the work fails', async () => {
    const locks = new KeyedMutex();
    await expect(locks.runExclusive('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(locks.runExclusive('k', async () => 'next')).resolves.toBe('next');
    expect(locks.size).toBe(0);
  });
});
