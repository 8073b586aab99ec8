/**
 * The human monitor commands reachable through human-monitor-command, with
 * QEMU's output texts (monitor/hmp-cmds.c). Output lines end in CRLF because
 * QEMU's monitor turns every "\n" into "\r\n". An unknown command is not an
 * error in QEMU: the reply is the text "unknown command: '...'".
 */
import { CommandContext } from './command-context';
import { contVm, powerdownVm, quitVm, resetVm, stopVm } from './commands/run-control';
import { statusInfo, versionInfo } from './commands/queries';
import { BlockDeviceInfo, VcpuInfo } from './vm-control';

export interface HmpRequest {
  commandLine: string;
  /** The monitor's current CPU for this command (human-monitor-command's cpu-index); default the first. */
  cpuIndex?: number;
}

type HmpHandler = (ctx: CommandContext, args: string[], req: HmpRequest) => Promise<string> | string;

/** QEMU's monitor starts on the first CPU. */
function currentCpu(cpus: VcpuInfo[], req: HmpRequest): number {
  return req.cpuIndex ?? (cpus.length > 0 ? Math.min(...cpus.map((c) => c.index)) : 0);
}

async function infoRegisters(ctx: CommandContext, args: string[], req: HmpRequest): Promise<string> {
  const cpus = await ctx.vm.cpus();
  const dump = async (index: number) => `\nCPU#${index}\n${await ctx.vm.registers(index)}`;
  if (args[0] === '-a') {
    let out = '';
    for (const cpu of cpus) out += await dump(cpu.index);
    return out;
  }
  const wanted = args[0] !== undefined ? Number(args[0]) : currentCpu(cpus, req);
  if (!cpus.some((c) => c.index === wanted)) {
    return args[0] !== undefined ? `CPU#${args[0]} not available\n` : 'No CPU available\n';
  }
  return dump(wanted);
}

async function infoCpus(ctx: CommandContext, _args: string[], req: HmpRequest): Promise<string> {
  const cpus = await ctx.vm.cpus();
  const current = currentCpu(cpus, req);
  return cpus.map((c) => `${c.index === current ? '*' : ' '} CPU #${c.index}: thread_id=${c.threadId}\n`).join('');
}

function blockText(b: BlockDeviceInfo): string {
  let out = b.inserted
    ? `${b.device} (${b.inserted.nodeName}): ${b.inserted.file} (${b.inserted.drv}${b.inserted.readOnly ? ', read-only' : ''})\n`
    : `${b.device}: [not inserted]\n`;
  if (b.qdev) out += `    Attached to:      ${b.qdev}\n`;
  if (b.removable) out += `    Removable device: ${b.locked ? 'locked' : 'not locked'}, tray ${b.trayOpen ? 'open' : 'closed'}\n`;
  if (b.inserted) {
    const c = b.inserted.cache;
    const mode = `${c.writeback ? 'writeback' : 'writethrough'}${c.direct ? ', direct' : ''}${c.noFlush ? ', ignore flushes' : ''}`;
    out += `    Cache mode:       ${mode}\n`;
  }
  return out;
}

const INFO: Record<string, HmpHandler> = {
  status: (ctx) => {
    const s = statusInfo(ctx);
    const shown = s.running ? 'running' : 'paused';
    return `VM status: ${shown}${!s.running && s.status !== 'paused' ? ` (${String(s.status)})` : ''}\n`;
  },
  registers: infoRegisters,
  cpus: infoCpus,
  version: () => {
    const v = versionInfo();
    const q = v.qemu as { major: number; minor: number; micro: number };
    return `${q.major}.${q.minor}.${q.micro}${String(v.package)}\n`;
  },
  block: (ctx) => ctx.vm.blockDevices().map(blockText).join('\n'),
  name: (ctx) => (ctx.vm.name !== undefined ? `${ctx.vm.name}\n` : ''),
  uuid: (ctx) => `${ctx.vm.uuid}\n`,
  kvm: (ctx) => (ctx.vm.kvmPresent ? `kvm support: ${ctx.vm.accel === 'kvm' ? 'enabled' : 'disabled'}\n` : 'kvm support: not compiled\n'),
};

const COMMANDS: Record<string, HmpHandler> = {
  system_powerdown: async (ctx) => { await powerdownVm(ctx); return ''; },
  system_reset: async (ctx) => { await resetVm(ctx); return ''; },
  stop: async (ctx) => { await stopVm(ctx); return ''; },
  cont: async (ctx) => { await contVm(ctx); return ''; },
  c: async (ctx) => { await contVm(ctx); return ''; },
  q: async (ctx) => { await quitVm(ctx); return ''; },
  quit: async (ctx) => { await quitVm(ctx); return ''; },
};

function lookup<T>(table: Record<string, T>, key: string | undefined): T | undefined {
  return key !== undefined && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/** Runs one HMP command line; returns its output with CRLF line ends. Errors from the VM become output, as in QEMU. */
export async function runHmp(ctx: CommandContext, req: HmpRequest): Promise<string> {
  const words = req.commandLine.trim().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return '';
  let out: string;
  try {
    if (words[0] === 'info') {
      const handler = lookup(INFO, words[1]);
      out = handler ? await handler(ctx, words.slice(2), req) : words.length === 1
        ? Object.keys(INFO).map((k) => `info ${k}\n`).join('')
        : `unknown command: 'info ${words[1]}'\n`;
    } else {
      const handler = lookup(COMMANDS, words[0]);
      out = handler ? await handler(ctx, words.slice(1), req) : `unknown command: '${words[0]}'\n`;
    }
  } catch (e) {
    out = `Error: ${e instanceof Error ? e.message : String(e)}\n`;
  }
  return out.replace(/\r?\n/g, '\r\n');
}
