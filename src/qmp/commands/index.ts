/**
 * Every QMP command tsvisor serves. Each must have a schema in schemas/qmp
 * (test/qmp-commands.test.ts checks), which validates its arguments before
 * the handler runs.
 */
import { CommandHandler } from '../command-context';
import { QmpError } from '../errors';
import { humanMonitorCommand } from './hmp-command';
import { queryCommands } from './queries';
import { runControlCommands } from './run-control';

/** Never reached before negotiation (the dispatcher answers that itself); afterwards QEMU's refusal. */
const qmpCapabilities: CommandHandler = () => {
  throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
};

export const COMMANDS: Record<string, CommandHandler> = {
  qmp_capabilities: qmpCapabilities,
  ...queryCommands,
  ...runControlCommands,
  'human-monitor-command': humanMonitorCommand,
};
