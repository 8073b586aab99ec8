/**
 * The Multiboot system-test guests: which exist, how to build and run them,
 * and how to read their serial output. See test/guests/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assembleImage } from '../helpers/assemble';

export interface GuestSpec {
  /** Source file in test/guests (without .S) */
  name: string;
  cpus: number;
  /** Checks that may legitimately be absent (the guest skips them when CPUID says so). */
  optional: string[];
  /** Small enough for this machine's nested KVM (guest code runs ~2000x slower there). */
  kvmSized: boolean;
}

export const GUESTS: readonly GuestSpec[] = [
  { name: 'mb-exceptions', cpus: 1, optional: [], kvmSized: true },
  { name: 'mb-paging', cpus: 1, optional: ['pae-pf-reserved-bit-error', 'pae-pf-reserved-bit-cr2'], kvmSized: true },
  { name: 'mb-longmode', cpus: 1, optional: ['lm-1gib-page'], kvmSized: true },
  { name: 'mb-compat', cpus: 1, optional: [], kvmSized: true },
  { name: 'mb-ring3', cpus: 1, optional: [], kvmSized: true },
  { name: 'mb-timer', cpus: 1, optional: [], kvmSized: false },
  { name: 'mb-apic', cpus: 1, optional: [], kvmSized: false },
  { name: 'mb-fpu', cpus: 1, optional: [], kvmSized: false },
  { name: 'mb-smp', cpus: 2, optional: [], kvmSized: true },
];

/**
 * Guests that must pass under tsvisor, per accelerator. The others run as
 * tap `todo` until they are listed here; never remove one to go green.
 */
export const TSVISOR_PASSING: Record<'tcg' | 'kvm', readonly string[]> = {
  tcg: ['mb-exceptions', 'mb-paging', 'mb-longmode', 'mb-compat', 'mb-ring3', 'mb-timer', 'mb-apic', 'mb-smp', 'mb-fpu'],
  // Nested KVM here (kvm_pvm) stops with KVM_EXIT_INTERNAL_ERROR (emulation
  // failure) at a 32-bit IRET (mb-exceptions, mb-paging, mb-compat) and at
  // INT3 in 64-bit mode (mb-longmode); mb-ring3 hangs after IRETQ to ring 3.
  // mb-smp takes no interrupts: it runs there (vCPU 1 on its own thread).
  kvm: ['mb-smp'],
};

/** The guest sources live in the source tree (dist/ holds only JS). */
export const GUEST_DIR = join(__dirname, '..', '..', '..', 'test', 'guests');
export const REPO_ROOT = join(__dirname, '..', '..', '..');

/** Build a guest into a 32-bit Multiboot ELF (cached by content). */
export function buildGuest(name: string): string {
  return assembleImage({ file: join(GUEST_DIR, `${name}.S`) }, { elf32: true }).path;
}

/** Names of the checks a guest prints as PASS lines, read from its source. */
export function expectedChecks(name: string): string[] {
  const src = readFileSync(join(GUEST_DIR, `${name}.S`), 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/^\s*(?:\d+:\s*)?EXPECT(?:64|L)?\s+[^\n"]*"([^"]+)"/gm)) out.push(m[1]);
  for (const m of src.matchAll(/^\s*SAY(?:64)?\s+"PASS ([^"]+)"/gm)) out.push(m[1]);
  return out;
}

export interface GuestRun {
  status: number | null;
  output: string;
  timedOut: boolean;
}

export interface Verdict {
  ok: boolean;
  problems: string[];
}

/** Status 1 (debug-exit value 0), "ALL PASSED", no FAIL line, every expected check present. */
export function judge(spec: GuestSpec, run: GuestRun): Verdict {
  const problems: string[] = [];
  // Firmware text may precede the first line on the same line (QEMU's SeaBIOS "Booting from ROM..").
  const lines = run.output.split(/\r?\n/).map((l) => l.replace(/^.*\.\.(?=PASS |FAIL )/, ''));
  const passed = new Set(lines.filter((l) => l.startsWith('PASS ')).map((l) => l.slice(5).trim()));
  if (run.timedOut) problems.push('timed out');
  if (run.status !== 1) problems.push(`exit status ${run.status} (want 1: debug-exit value 0)`);
  for (const l of lines) if (l.startsWith('FAIL ')) problems.push(l);
  if (!lines.some((l) => l.trim() === 'ALL PASSED')) problems.push('no "ALL PASSED" line');
  for (const c of expectedChecks(spec.name)) if (!passed.has(c) && !spec.optional.includes(c)) problems.push(`missing PASS ${c}`);
  if (spec.name === 'mb-smp' && !lines.some((l) => l.startsWith('AP 1 up'))) problems.push('the AP did not print');
  return { ok: problems.length === 0, problems };
}

function runCommand(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): GuestRun {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], cwd: REPO_ROOT, env: env ?? process.env });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT' || r.signal === 'SIGTERM';
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, timedOut };
}

export function qemuAvailable(): boolean {
  const r = spawnSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

/** The reference: QEMU TCG, q35, -cpu max, isa-debug-exit at 0xf4. */
export function runQemu(spec: GuestSpec, elf: string, timeoutMs = 60000): GuestRun {
  return runCommand('qemu-system-x86_64', ['-accel', 'tcg', '-machine', 'q35', '-cpu', 'max', '-m', '128', '-smp', String(spec.cpus),
    '-nographic', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-kernel', elf,
    '-serial', 'stdio', '-display', 'none', '-monitor', 'none'], timeoutMs);
}

/** `engine` picks the software CPU's engine (TSVISOR_TCG); unset: tsvisor's default. */
export function runTsvisor(spec: GuestSpec, elf: string, accel: 'tcg' | 'kvm', timeoutMs = 60000, engine?: 'interp' | 'jit'): GuestRun {
  const env = engine ? { ...process.env, TSVISOR_TCG: engine } : process.env;
  return runCommand(join(REPO_ROOT, 'bin', 'tsvisor'), ['run', '--kernel', elf, '--accel', accel, '--serial', 'stdio',
    '--memory', '128M', '--cpus', String(spec.cpus), '--no-reboot'], timeoutMs, env);
}

export function kvmAvailable(): boolean {
  return existsSync('/dev/kvm');
}

/** The last lines of an output, for diagnostics. */
export function tail(text: string, n = 15): string {
  return text.split(/\r?\n/).slice(-n).join('\n');
}
