import { describe, it } from '@jest/globals';
import { expect } from '../../test/jest/expect.js';
import { deniedCalls, seccompFilter } from './seccomp.js';

/** Decodes `struct sock_filter` entries: code, jt, jf, k. */
function decode(buffer: Buffer): { code: number; jt: number; jf: number; k: number }[] {
  const out = [];
  for (let offset = 0; offset < buffer.length; offset += 8) {
    out.push({ code: buffer.readUInt16LE(offset), jt: buffer.readUInt8(offset + 2), jf: buffer.readUInt8(offset + 3), k: buffer.readUInt32LE(offset + 4) });
  }
  return out;
}

/** Runs the program on one call the way the kernel would; returns its verdict. */
function verdict(program: ReturnType<typeof decode>, arch: number, nr: number): number {
  let accumulator = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const { code, jt, jf, k } = program[pc]!;
    if (code === 0x20) accumulator = k === 4 ? arch : nr;
    else if (code === 0x15) pc += accumulator === k ? jt : jf;
    else if (code === 0x35) pc += accumulator >= k ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`unexpected instruction ${code}`);
  }
  throw new Error('the program ran off its end');
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;

describe('seccomp filter', () => {
  it('refuses tracing, namespaces, mounts, keyrings and BPF, answers ENOSYS for io_uring, and allows the rest (x86_64)', () => {
    const program = decode(seccompFilter('x64')!);
    const x64 = 0xc000003e;
    for (const [nr, expected] of [
      [101, EPERM], // ptrace
      [272, EPERM], // unshare
      [165, EPERM], // mount
      [321, EPERM], // bpf
      [250, EPERM], // keyctl
      [425, ENOSYS], // io_uring_setup
      [0, ALLOW], // read
      [59, ALLOW], // execve
      [56, ALLOW], // clone
      [0x40000000 + 1, EPERM], // an x32 call
    ] as const) {
      expect(verdict(program, x64, nr), `nr ${nr}`).toBe(expected);
    }
    // An i386 call made through int 0x80 has other numbers: refused whole.
    expect(verdict(program, 0x40000003, 0)).toBe(EPERM);
  });

  it('has the arm64 numbers for the same calls, and none for other architectures', () => {
    const program = decode(seccompFilter('arm64')!);
    const arm64 = 0xc00000b7;
    expect(verdict(program, arm64, 117)).toBe(EPERM); // ptrace
    expect(verdict(program, arm64, 97)).toBe(EPERM); // unshare
    expect(verdict(program, arm64, 63)).toBe(ALLOW); // read
    expect(seccompFilter('riscv64')).toBeNull();
    expect(deniedCalls('x64')).toEqual(expect.arrayContaining(['ptrace', 'mount', 'io_uring_setup']));
  });
});
