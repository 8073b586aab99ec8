/** human-monitor-command: HMP text commands over QMP (virsh qemu-monitor-command --hmp). */
import { CommandHandler } from '../command-context';
import { genericError } from '../errors';
import { runHmp } from '../hmp';

export const humanMonitorCommand: CommandHandler = async (ctx, args) => {
  const commandLine = String(args['command-line']);
  let cpuIndex = 0;
  if (typeof args['cpu-index'] === 'number') {
    cpuIndex = args['cpu-index'];
    const cpus = await ctx.vm.cpus();
    if (!cpus.some((c) => c.index === cpuIndex)) throw genericError("Parameter 'cpu-index' expects a CPU number");
  } else {
    // QEMU's monitor starts on the first CPU.
    const cpus = await ctx.vm.cpus();
    cpuIndex = cpus.length > 0 ? Math.min(...cpus.map((c) => c.index)) : 0;
  }
  return runHmp(ctx, { commandLine, cpuIndex });
};
