/**
 * Turns one parsed message into one reply, following QEMU's
 * qapi/qmp-dispatch.c and monitor/qmp.c: envelope checks, capability
 * negotiation, command lookup, argument validation, then the handler.
 * Failures never escape: every message gets exactly one reply.
 */
import { ArgumentValidator } from './argument-validator';
import { CommandContext, CommandHandler } from './command-context';
import { QmpError, genericError } from './errors';
import { JsonObject, JsonValue, hasKey, isJsonObject, newJsonObject } from './json-value';
import { StreamedMessage } from './json-streamer';
import { qdictOrder } from './qdict-order';
import { Logger } from '../log';

const NEGOTIATION_REQUIRED = "Expecting capabilities negotiation with 'qmp_capabilities'";

interface Request {
  command: string;
  oob: boolean;
  args: JsonObject;
}

/** QEMU's qmp_dispatch_check_obj(), walking the members in QDict order so the same problem is reported first. */
function checkEnvelope(msg: JsonObject, allowOob: boolean): Request {
  let command: string | undefined;
  let execKey: string | undefined;
  for (const key of qdictOrder(Object.keys(msg))) {
    const value = msg[key];
    if (key === 'execute' || (key === 'exec-oob' && allowOob)) {
      if (typeof value !== 'string') throw genericError(`QMP input member '${key}' must be a string`);
      if (execKey !== undefined) throw genericError(`QMP input member '${key}' clashes with '${execKey}'`);
      execKey = key;
      command = value;
    } else if (key === 'arguments') {
      if (!isJsonObject(value)) throw genericError("QMP input member 'arguments' must be an object");
    } else if (key !== 'id') {
      throw genericError(`QMP input member '${key}' is unexpected`);
    }
  }
  if (command === undefined) throw genericError("QMP input lacks member 'execute'");
  const args = msg.arguments;
  return { command, oob: execKey === 'exec-oob', args: isJsonObject(args) ? args : newJsonObject() };
}

export function errorReply(error: QmpError, id?: JsonValue): JsonObject {
  const reply: JsonObject = {};
  if (id !== undefined) reply.id = id;
  reply.error = { class: error.errorClass, desc: error.message };
  return reply;
}

export class Dispatcher {
  constructor(
    private readonly commands: Record<string, CommandHandler>,
    private readonly validator: ArgumentValidator,
    private readonly log: Logger,
  ) {}

  async handle(message: StreamedMessage, ctx: CommandContext): Promise<JsonObject> {
    if (!message.ok) return errorReply(genericError(message.error));
    const msg = message.value;
    if (!isJsonObject(msg)) return errorReply(genericError('QMP input must be a JSON object'));
    const id = hasKey(msg, 'id') ? msg.id : undefined;
    try {
      const result = await this.execute(msg, ctx);
      const reply: JsonObject = { return: result };
      if (id !== undefined) reply.id = id;
      return reply;
    } catch (e) {
      if (e instanceof QmpError) return errorReply(e, id);
      // A handler bug must not take the monitor (or the VM) down.
      const text = e instanceof Error ? e.message : String(e);
      this.log.error(`qmp: command failed unexpectedly: ${e instanceof Error && e.stack ? e.stack : text}`);
      return errorReply(genericError(text), id);
    }
  }

  private async execute(msg: JsonObject, ctx: CommandContext): Promise<JsonValue> {
    const req = checkEnvelope(msg, ctx.session.oob);
    const negotiating = !ctx.session.negotiated;
    const handler = Object.prototype.hasOwnProperty.call(this.commands, req.command) ? this.commands[req.command] : undefined;
    if (negotiating && req.command !== 'qmp_capabilities') throw new QmpError('CommandNotFound', NEGOTIATION_REQUIRED);
    if (!handler) throw new QmpError('CommandNotFound', `The command ${req.command} has not been found`);
    if (req.oob) throw genericError(`The command ${req.command} does not support OOB`);
    const invalid = this.validator.check(req.command, req.args);
    if (invalid) throw invalid;
    if (negotiating) {
      const enable = req.args.enable;
      ctx.session.oob = Array.isArray(enable) && enable.includes('oob');
      ctx.session.negotiated = true;
      return {};
    }
    return handler(ctx, req.args);
  }
}
