/**
 * A seccomp filter for agents: a deny list of system calls that no coding
 * agent needs and that widen what a process can reach of the kernel or of
 * other processes (tracing, kernel modules and keyrings, BPF, new namespaces
 * and mounts, io_uring). Everything else is allowed: a coding agent runs
 * compilers, package managers and test suites, and an allow list would break
 * them one by one. bubblewrap loads the filter (`--seccomp FD`) right before
 * it starts the agent, after its own setup.
 *
 * The program is classic BPF, as `struct sock_filter` (8 bytes each):
 * check the architecture, load the call's number, compare it with each
 * denied one.
 */

const EPERM = 1;
const ENOSYS = 38;

const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;

// struct seccomp_data: nr at offset 0, arch at offset 4.
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JGE_K = 0x35;
const BPF_RET_K = 0x06;

/** x86_64 calls with bit 30 set are the x32 ABI: another table of numbers, denied whole. */
const X32_SYSCALL_BIT = 0x40000000;

type Denied = Record<string, number>;

/** Refused with EPERM, by architecture: name → number. */
const DENIED: Record<'x64' | 'arm64', { audit: number; calls: Denied; x32: boolean }> = {
  x64: {
    audit: 0xc000003e,
    x32: true,
    calls: {
      ptrace: 101, process_vm_readv: 310, process_vm_writev: 311,
      kexec_load: 246, kexec_file_load: 320, init_module: 175, finit_module: 313, delete_module: 176,
      keyctl: 250, add_key: 248, request_key: 249, bpf: 321, perf_event_open: 298, userfaultfd: 323,
      iopl: 172, ioperm: 173, swapon: 167, swapoff: 168, reboot: 169, acct: 163, quotactl: 179,
      name_to_handle_at: 303, open_by_handle_at: 304, syslog: 103, lookup_dcookie: 212, uselib: 134,
      unshare: 272, setns: 308, mount: 165, umount2: 166, pivot_root: 155, chroot: 161,
      open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    },
  },
  arm64: {
    audit: 0xc00000b7,
    x32: false,
    calls: {
      ptrace: 117, process_vm_readv: 270, process_vm_writev: 271,
      kexec_load: 104, kexec_file_load: 294, init_module: 105, finit_module: 273, delete_module: 106,
      keyctl: 219, add_key: 217, request_key: 218, bpf: 280, perf_event_open: 241, userfaultfd: 282,
      swapon: 224, swapoff: 225, reboot: 142, acct: 89, quotactl: 60,
      name_to_handle_at: 264, open_by_handle_at: 265, syslog: 116, lookup_dcookie: 18,
      unshare: 97, setns: 268, mount: 40, umount2: 39, pivot_root: 41, chroot: 51,
      open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    },
  },
};

/** io_uring (the same numbers everywhere): ENOSYS, the answer on which runtimes fall back to plain I/O. */
const UNSUPPORTED = { io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427 };

interface Instruction {
  code: number;
  /** Instruction indexes to jump to (absolute; encoded relative), or undefined for the next one. */
  jt?: number;
  jf?: number;
  k: number;
}

/** The filter for this machine's architecture, or null where none is defined (the sandbox then has none). */
export function seccompFilter(arch: string = process.arch): Buffer | null {
  const table = DENIED[arch as 'x64' | 'arm64'];
  if (!table) return null;
  const denied = Object.values(table.calls);
  const unsupported = Object.values(UNSUPPORTED);
  // Layout: [0] load arch, [1] arch check, [2] load nr, [3] x32 check (x86_64), then one compare per call,
  // then ALLOW, EPERM, ENOSYS.
  const compareStart = table.x32 ? 4 : 3;
  const allow = compareStart + denied.length + unsupported.length;
  const eperm = allow + 1;
  const enosys = allow + 2;
  const program: Instruction[] = [
    { code: BPF_LD_W_ABS, k: 4 },
    // Another architecture's calls (i386 through int 0x80 on x86_64) have other numbers: refused whole.
    { code: BPF_JMP_JEQ_K, k: table.audit, jf: eperm },
    { code: BPF_LD_W_ABS, k: 0 },
    ...(table.x32 ? [{ code: BPF_JMP_JGE_K, k: X32_SYSCALL_BIT, jt: eperm }] : []),
    ...denied.map((nr) => ({ code: BPF_JMP_JEQ_K, k: nr, jt: eperm })),
    ...unsupported.map((nr) => ({ code: BPF_JMP_JEQ_K, k: nr, jt: enosys })),
    { code: BPF_RET_K, k: SECCOMP_RET_ALLOW },
    { code: BPF_RET_K, k: SECCOMP_RET_ERRNO | EPERM },
    { code: BPF_RET_K, k: SECCOMP_RET_ERRNO | ENOSYS },
  ];
  const buffer = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    const relative = (target: number | undefined): number => (target === undefined ? 0 : target - index - 1);
    buffer.writeUInt16LE(instruction.code, index * 8);
    buffer.writeUInt8(relative(instruction.jt), index * 8 + 2);
    buffer.writeUInt8(relative(instruction.jf), index * 8 + 3);
    buffer.writeUInt32LE(instruction.k >>> 0, index * 8 + 4);
  });
  return buffer;
}

/** The names of the calls the filter refuses on an architecture (for the docs and the tests). */
export function deniedCalls(arch: string = process.arch): string[] {
  const table = DENIED[arch as 'x64' | 'arm64'];
  return table ? [...Object.keys(table.calls), ...Object.keys(UNSUPPORTED)] : [];
}
