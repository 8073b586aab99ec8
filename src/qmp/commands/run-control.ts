/**
 * stop, cont, system_reset, system_powerdown, quit: QEMU's run-state rules
 * (qmp_stop -> vm_stop only when running; qmp_cont refusing states that need
 * a reset; vm_prepare_start doing nothing when already running) are
 * enforced here, so every VmControl behaves the same to clients.
 */
import { CommandContext, CommandHandler } from '../command-context';
import { genericError } from '../errors';
import { JsonObject } from '../json-value';
import { RunState, VmControl } from '../vm-control';

/**
 * Run-state changes are serialised per VM, across clients and monitors, so
 * that "check the state, then act" cannot interleave (two clients sending
 * stop at once must produce one STOP, as under QEMU's big lock).
 */
const queues = new WeakMap<VmControl, Promise<unknown>>();

function exclusively<T>(vm: VmControl, action: () => Promise<T>): Promise<T> {
  const previous = queues.get(vm) ?? Promise.resolve();
  const next = previous.then(action, action);
  queues.set(vm, next.catch(() => undefined));
  return next;
}

/** QEMU's runstate_needs_reset(). */
export function needsReset(state: RunState): boolean {
  return state === 'shutdown' || state === 'internal-error';
}

export function stopVm(ctx: CommandContext): Promise<void> {
  return exclusively(ctx.vm, async () => {
    if (ctx.vm.runState() === 'running') await ctx.vm.stop();
  });
}

export function contVm(ctx: CommandContext): Promise<void> {
  return exclusively(ctx.vm, async () => {
    const state = ctx.vm.runState();
    if (needsReset(state)) throw genericError('Resetting the Virtual Machine is required');
    if (state === 'finish-migrate') throw genericError('Migration is not finalized yet');
    if (state === 'suspended' || state === 'running') return;
    await ctx.vm.cont();
  });
}

export function resetVm(ctx: CommandContext): Promise<void> {
  return exclusively(ctx.vm, async () => { await ctx.vm.reset(); });
}

export function powerdownVm(ctx: CommandContext): Promise<void> {
  return exclusively(ctx.vm, async () => { await ctx.vm.powerdown(); });
}

export function quitVm(ctx: CommandContext): Promise<void> {
  return exclusively(ctx.vm, async () => {
    await ctx.vm.quit();
    ctx.monitor.requestQuit();
  });
}

const done = (): JsonObject => ({});

export const runControlCommands: Record<string, CommandHandler> = {
  stop: async (ctx) => { await stopVm(ctx); return done(); },
  cont: async (ctx) => { await contVm(ctx); return done(); },
  system_reset: async (ctx) => { await resetVm(ctx); return done(); },
  system_powerdown: async (ctx) => { await powerdownVm(ctx); return done(); },
  quit: async (ctx) => { await quitVm(ctx); return done(); },
};
