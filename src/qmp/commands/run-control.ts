/**
 * stop, cont, system_reset, system_powerdown, quit: QEMU's run-state rules
 * (qmp_stop -> vm_stop only when running; qmp_cont refusing states that need
 * a reset; vm_prepare_start doing nothing when already running) are
 * enforced here, so every VmControl behaves the same to clients.
 */
import { CommandContext, CommandHandler } from '../command-context';
import { genericError } from '../errors';
import { JsonObject } from '../json-value';
import { RunState } from '../vm-control';

/** QEMU's runstate_needs_reset(). */
export function needsReset(state: RunState): boolean {
  return state === 'shutdown' || state === 'internal-error';
}

export async function stopVm(ctx: CommandContext): Promise<void> {
  if (ctx.vm.runState() === 'running') await ctx.vm.stop();
}

export async function contVm(ctx: CommandContext): Promise<void> {
  const state = ctx.vm.runState();
  if (needsReset(state)) throw genericError('Resetting the Virtual Machine is required');
  if (state === 'finish-migrate') throw genericError('Migration is not finalized yet');
  if (state === 'suspended' || state === 'running') return;
  await ctx.vm.cont();
}

export async function quitVm(ctx: CommandContext): Promise<void> {
  await ctx.vm.quit();
  ctx.monitor.requestQuit();
}

const done = (): JsonObject => ({});

export const runControlCommands: Record<string, CommandHandler> = {
  stop: async (ctx) => { await stopVm(ctx); return done(); },
  cont: async (ctx) => { await contVm(ctx); return done(); },
  system_reset: async (ctx) => { await ctx.vm.reset(); return done(); },
  system_powerdown: async (ctx) => { await ctx.vm.powerdown(); return done(); },
  quit: async (ctx) => { await quitVm(ctx); return done(); },
};
