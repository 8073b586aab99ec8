/**
 * `tsvisor run` options → VmConfig. Unknown options, missing values and bad
 * numbers are CliErrors with one line that says what is wrong.
 */
import { parseArgs } from 'node:util';
import { CliError } from './errors';
import {
  AccelName, ConfigError, KernelFormat, MAX_CPUS, SerialTarget, VmConfig, parseAddress, parseMemorySize,
} from '../machine/vm-config';
import { parseConsole, parseDisk, parseMachineType, parseNet } from '../machine/virtio-config';

export interface RunOptions {
  config: VmConfig;
  /** Raw `--qmp` values (QEMU syntax), parsed by the QMP module. */
  qmp: string[];
  qmpFd?: number;
  /** Build the guest but leave its vCPUs stopped until QMP `cont` (QEMU's -S). */
  paused: boolean;
}

export const RUN_USAGE = `usage: tsvisor run --kernel PATH [options]
  --kernel PATH            kernel: bzImage, PVH vmlinux, Multiboot ELF, or a flat binary with --kernel-format raw,...
  --kernel-format FMT      auto (default) | bzimage (run its own decompressor) | raw,load=ADDR,entry=ADDR,mode=16|32|64
  --initrd PATH            initial ramdisk
  --append STR             kernel command line
  --memory SIZE            guest RAM, e.g. 256M (default), 2G; a bare number is MiB
  --cpus N                 vCPUs, 1-${MAX_CPUS} (default 1)
  --accel A                auto (default) | kvm | tcg | kvm:tcg (first that starts)
  --serial S               stdio (default) | none | file:PATH
  --no-reboot              exit instead of resetting when the guest reboots
  --name NAME              guest name (QMP query-name)
  --paused                 do not start the vCPUs until QMP 'cont' (QEMU's -S)
  --qmp unix:PATH,server=on,wait=off   QMP monitor on a Unix socket (repeatable)
  --qmp-fd N               QMP monitor on an inherited listening socket
  --machine M              pc (default: PCI host bridge, virtio-pci with MSI-X) | microvm (virtio-mmio, no PCI)
  --disk PATH[,readonly=on][,serial=ID]   raw disk image as virtio-blk (repeatable; write-locked unless read-only)
  --net tap=NAME[,mac=MAC] virtio-net on TAP interface NAME (created if missing); --net fd=N[,mac=MAC]: an inherited TAP fd
  --rng                    virtio-rng (the guest's /dev/hwrng)
  --console virtio         a virtio-console too: the guest's hvc0 (append console=hvc0); output goes where --serial does
On a terminal the console is raw: Ctrl-A x quits, Ctrl-A Ctrl-A sends Ctrl-A.`;

function fail(message: string): never {
  throw new CliError(message);
}

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

export function parseAccel(text: string): AccelName[] | 'auto' {
  if (text === 'auto') return 'auto';
  const parts = text.split(':');
  const out: AccelName[] = [];
  for (const p of parts) {
    if (p !== 'kvm' && p !== 'tcg') fail(`bad --accel '${text}': expected auto, kvm, tcg or a list like kvm:tcg`);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

export function parseSerial(text: string): SerialTarget {
  if (text === 'stdio') return { kind: 'stdio' };
  if (text === 'none') return { kind: 'none' };
  if (text.startsWith('file:') && text.length > 5) return { kind: 'file', path: text.slice(5) };
  return fail(`bad --serial '${text}': expected stdio, none or file:PATH`);
}

export function parseKernelFormat(text: string): KernelFormat {
  if (text === 'auto') return { kind: 'auto' };
  if (text === 'bzimage') return { kind: 'bzimage' };
  const [kind, ...rest] = text.split(',');
  if (kind !== 'raw') fail(`bad --kernel-format '${text}': expected auto, bzimage or raw,load=ADDR,entry=ADDR,mode=16|32|64`);
  const fields = new Map<string, string>();
  for (const kv of rest) {
    const eq = kv.indexOf('=');
    if (eq <= 0) fail(`bad --kernel-format field '${kv}': expected key=value`);
    const key = kv.slice(0, eq);
    if (!['load', 'entry', 'mode'].includes(key)) fail(`unknown --kernel-format field '${key}': expected load, entry or mode`);
    fields.set(key, kv.slice(eq + 1));
  }
  const load = wrap(() => parseAddress(fields.get('load') ?? fail('--kernel-format raw needs load=ADDR'), 'load address'));
  const entry = wrap(() => parseAddress(fields.get('entry') ?? String(load), 'entry address'));
  const modeText = fields.get('mode') ?? '64';
  if (modeText !== '16' && modeText !== '32' && modeText !== '64') fail(`bad --kernel-format mode '${modeText}': expected 16, 32 or 64`);
  const mode = Number(modeText) as 16 | 32 | 64;
  if (mode === 16 && (load > 0xfffff || entry > 0xffff)) fail('raw mode=16 needs load below 1 MiB and entry below 64 KiB (CS=0)');
  return { kind: 'raw', load, entry, mode };
}

export function parseRunArgs(argv: string[]): RunOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        kernel: { type: 'string' },
        'kernel-format': { type: 'string' },
        initrd: { type: 'string' },
        append: { type: 'string' },
        memory: { type: 'string', short: 'm' },
        cpus: { type: 'string' },
        accel: { type: 'string' },
        serial: { type: 'string' },
        'no-reboot': { type: 'boolean' },
        paused: { type: 'boolean', short: 'S' },
        name: { type: 'string' },
        qmp: { type: 'string', multiple: true },
        'qmp-fd': { type: 'string' },
        machine: { type: 'string' },
        disk: { type: 'string', multiple: true },
        net: { type: 'string', multiple: true },
        rng: { type: 'boolean' },
        console: { type: 'string' },
      },
    });
  } catch (e) {
    // parseArgs' messages already name the option; keep only their first sentence.
    const msg = e instanceof Error ? e.message.split('. ')[0] : String(e);
    fail(msg.replace(/^Unknown option/, 'unknown option'));
  }
  const v = parsed.values;
  if (!v.kernel) fail('--kernel PATH is required (try: tsvisor run --help)');
  let cpus = 1;
  if (v.cpus !== undefined) {
    if (!/^\d+$/.test(v.cpus)) fail(`bad --cpus '${v.cpus}': expected a whole number 1-${MAX_CPUS}`);
    cpus = Number(v.cpus);
    if (cpus < 1 || cpus > MAX_CPUS) fail(`bad --cpus '${v.cpus}': expected 1-${MAX_CPUS}`);
  }
  let qmpFd: number | undefined;
  if (v['qmp-fd'] !== undefined) {
    if (!/^\d+$/.test(v['qmp-fd'])) fail(`bad --qmp-fd '${v['qmp-fd']}': expected a file descriptor number`);
    qmpFd = Number(v['qmp-fd']);
  }
  const config: VmConfig = {
    kernelPath: v.kernel,
    kernelFormat: v['kernel-format'] ? parseKernelFormat(v['kernel-format']) : { kind: 'auto' },
    initrdPath: v.initrd,
    append: v.append ?? '',
    memoryBytes: v.memory ? wrap(() => parseMemorySize(v.memory as string)) : 256 * 2 ** 20,
    cpus,
    accel: v.accel ? parseAccel(v.accel) : 'auto',
    serial: v.serial ? parseSerial(v.serial) : { kind: 'stdio' },
    noReboot: v['no-reboot'] ?? false,
    name: v.name,
    machine: v.machine ? wrap(() => parseMachineType(v.machine as string)) : 'pc',
    disks: (v.disk ?? []).map((d) => wrap(() => parseDisk(d))),
    nets: (v.net ?? []).map((n) => wrap(() => parseNet(n))),
    rng: v.rng ?? false,
    console: v.console ? wrap(() => parseConsole(v.console as string)) : 'serial',
  };
  return { config, qmp: v.qmp ?? [], qmpFd, paused: v.paused ?? false };
}
