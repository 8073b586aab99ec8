/** human-monitor-command: HMP text commands over QMP (virsh qemu-monitor-command --hmp). */
import { CommandHandler } from '../command-context';
import { genericError } from '../errors';
import { runHmp } from '../hmp';

export const humanMonitorCommand: CommandHandler = async (ctx, args) => {
  const commandLine = String(args['command-line']);
  const cpuIndex = args['cpu-index'];
  if (typeof cpuIndex === 'number') {
    const cpus = await ctx.vm.cpus();
    if (!cpus.some((c) => c.index === cpuIndex)) throw genericError("Parameter 'cpu-index' expects a CPU number");
    return runHmp(ctx, { commandLine, cpuIndex });
  }
  return runHmp(ctx, { commandLine });
};
