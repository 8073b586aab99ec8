/** What a command handler gets to work with. */
import { JsonObject, JsonValue } from './json-value';
import { VmControl } from './vm-control';

/** Per-connection state that commands may change. */
export interface SessionState {
  /** True once qmp_capabilities succeeded (QEMU's command mode). */
  negotiated: boolean;
  /** Whether the client enabled the "oob" capability. */
  oob: boolean;
}

/** Facts and actions of the monitor as a whole, shared by its sessions. */
export interface MonitorServices {
  /** QEMU-style filename of the monitor's own socket, for query-chardev. */
  readonly chardevFilename: string;
  /** The names of all commands, for query-commands. */
  readonly commandNames: readonly string[];
  /** query-qmp-schema's reply, built once from schemas/qmp. */
  readonly schemaInfo: readonly JsonObject[];
  /** Ask the monitor to end the process once the current reply is flushed (quit). */
  requestQuit(): void;
}

export interface CommandContext {
  vm: VmControl;
  session: SessionState;
  monitor: MonitorServices;
}

export type CommandHandler = (ctx: CommandContext, args: JsonObject) => JsonValue | Promise<JsonValue>;
