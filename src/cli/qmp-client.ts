/**
 * `tsvisor qmp SOCKET`: an interactive QMP client (Debian packages no
 * qmp-shell). Works with tsvisor and with QEMU alike.
 *
 *   (qmp) query-status                       -> {"execute": "query-status"}
 *   (qmp) human-monitor-command command-line="info registers"
 *   (qmp) device-list-properties typename=virtio-blk-pci
 *   (qmp) {"execute": "stop", "id": 1}      -> sent as typed
 *   (qmp) hmp info status                    -> human-monitor-command, text shown raw
 *
 * Shorthand values are JSON when they parse as JSON (numbers, true, [1,2],
 * "quoted"), strings otherwise; `a.b=1` nests. Replies are pretty-printed,
 * events are shown as they arrive, history persists in ~/.tsvisor_qmp_history
 * (or $TSVISOR_QMP_HISTORY). Without a terminal on stdin it runs the lines
 * it reads as a script and exits at the end.
 */
import { connect, Socket } from 'node:net';
import { createInterface, Interface } from 'node:readline';
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './errors';

export const QMP_CLIENT_USAGE = `usage: tsvisor qmp [--json] SOCKET
  Interactive QMP client. Type a command with key=value arguments
  (query-status, device-list-properties typename=virtio-blk-pci),
  raw JSON ({"execute": ...}), or "hmp <human monitor command>".
  --json   print replies and events as single-line JSON
  Commands from a non-terminal stdin run as a script.`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A shorthand value: JSON when it parses, otherwise the text itself. */
function parseValue(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** Split on spaces, keeping "quoted strings" and {json} values whole. */
function splitWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let depth = 0;
  let quote = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      current += ch;
      if (ch === '\\' && i + 1 < line.length) current += line[++i];
      else if (ch === '"') quote = false;
    } else if (ch === '"') { quote = true; current += ch; }
    else if (ch === '{' || ch === '[') { depth++; current += ch; }
    else if (ch === '}' || ch === ']') { depth--; current += ch; }
    else if (/\s/.test(ch) && depth === 0) { if (current) words.push(current); current = ''; }
    else current += ch;
  }
  if (current) words.push(current);
  return words;
}

/** Turn one input line into a QMP request, or an error message for the user. */
export function parseClientLine(line: string): { request: Record<string, Json>; hmp: boolean } | { error: string } {
  const text = line.trim();
  if (text.startsWith('{')) {
    try {
      const value = JSON.parse(text) as unknown;
      if (!isObject(value)) return { error: 'a raw request must be a JSON object' };
      return { request: value, hmp: false };
    } catch (e) {
      return { error: `not valid JSON: ${(e as Error).message}` };
    }
  }
  if (text === 'hmp' || text.startsWith('hmp ')) {
    return { request: { execute: 'human-monitor-command', arguments: { 'command-line': text.slice(4).trim() } }, hmp: true };
  }
  const [command, ...pairs] = splitWords(text);
  const args: Record<string, Json> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { error: `expected key=value, got '${pair}'` };
    const path = pair.slice(0, eq).split('.');
    let target = args;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (!isObject(next)) target[key] = {};
      target = target[key] as Record<string, Json>;
    }
    const raw = pair.slice(eq + 1);
    if (path.includes('__proto__')) return { error: "'__proto__' cannot be a key" };
    target[path[path.length - 1]] = parseValue(raw);
  }
  const request: Record<string, Json> = { execute: command };
  if (pairs.length > 0) request.arguments = args;
  return { request, hmp: false };
}

function formatTime(ts: unknown): string {
  if (!isObject(ts) || typeof ts.seconds !== 'number' || typeof ts.microseconds !== 'number') return '?';
  return new Date(ts.seconds * 1000 + Math.floor(ts.microseconds / 1000)).toISOString();
}

/** What the user sees for one message from the server. */
export function formatMessage(message: unknown, opts: { json: boolean; hmp: boolean }): string {
  if (opts.json) return JSON.stringify(message);
  if (!isObject(message)) return JSON.stringify(message);
  if (typeof message.event === 'string') {
    const data = message.data === undefined ? '' : ` ${JSON.stringify(message.data)}`;
    return `event ${message.event} at ${formatTime(message.timestamp)}${data}`;
  }
  if (isObject(message.error)) return `error: ${String(message.error.class)}: ${String(message.error.desc)}`;
  if ('return' in message) {
    if (opts.hmp && typeof message.return === 'string') return message.return.replace(/\r\n/g, '\n').replace(/\n$/, '');
    return JSON.stringify(message.return, null, 2);
  }
  return JSON.stringify(message, null, 2);
}

/** Line-framed JSON reader over the socket. */
class Connection {
  private buffer = '';
  private waiting: Array<(m: unknown) => void> = [];
  onEvent: (m: unknown) => void = () => undefined;
  onClose: () => void = () => undefined;

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let at: number;
      while ((at = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, at).trim();
        this.buffer = this.buffer.slice(at + 1);
        if (line) this.dispatch(line);
      }
    });
    socket.on('close', () => this.onClose());
  }

  private dispatch(line: string): void {
    let message: unknown;
    try { message = JSON.parse(line); } catch { message = { unparsable: line }; }
    if (isObject(message) && 'event' in message) { this.onEvent(message); return; }
    const next = this.waiting.shift();
    if (next) next(message);
  }

  next(): Promise<unknown> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async request(request: Record<string, Json>): Promise<unknown> {
    const reply = this.next();
    this.socket.write(JSON.stringify(request) + '\n');
    return reply;
  }
}

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', (e) => reject(new CliError(`cannot connect to ${path}: ${e.message}`)));
  });
}

function historyFile(): string {
  return process.env.TSVISOR_QMP_HISTORY ?? join(homedir(), '.tsvisor_qmp_history');
}

function loadHistory(): string[] {
  try {
    return readFileSync(historyFile(), 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
  } catch {
    return [];
  }
}

function saveHistory(history: string[]): void {
  try {
    writeFileSync(historyFile(), [...history].reverse().slice(-1000).join('\n') + '\n', { mode: 0o600 });
  } catch {
    // history is a convenience; failing to write it is not an error
  }
}

export async function runQmpClient(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(QMP_CLIENT_USAGE + '\n');
    return 0;
  }
  const json = argv.includes('--json');
  const paths = argv.filter((a) => a !== '--json');
  if (paths.length !== 1 || paths[0].startsWith('-')) throw new CliError(QMP_CLIENT_USAGE);
  const conn = new Connection(await open(paths[0]));
  const out = (text: string) => process.stdout.write(text + '\n');

  const greeting = await conn.next();
  const version = isObject(greeting) && isObject(greeting.QMP) && isObject(greeting.QMP.version) ? greeting.QMP.version : undefined;
  if (!version) throw new CliError(`${paths[0]} did not greet like a QMP server: ${JSON.stringify(greeting)}`);
  const q = isObject(version.qemu) ? version.qemu : {};
  const negotiation = await conn.request({ execute: 'qmp_capabilities' });
  if (!isObject(negotiation) || !('return' in negotiation)) throw new CliError(`capabilities negotiation failed: ${JSON.stringify(negotiation)}`);
  const commandList = await conn.request({ execute: 'query-commands' });
  const commands = isObject(commandList) && Array.isArray(commandList.return)
    ? commandList.return.map((c) => (isObject(c) ? String(c.name) : '')).filter(Boolean).sort()
    : [];

  const interactive = Boolean(process.stdin.isTTY);
  const rl: Interface = createInterface({
    input: process.stdin,
    output: interactive ? process.stdout : undefined,
    terminal: interactive,
    prompt: '(qmp) ',
    history: interactive ? loadHistory() : [],
    historySize: 1000,
    completer: (line: string) => {
      const word = line.trim();
      const hits = commands.filter((c) => c.startsWith(word));
      return [hits.length ? hits : commands, word];
    },
  });
  if (interactive) out(`Connected to QMP ${String(q.major)}.${String(q.minor)}.${String(q.micro)} (${String(version.package)}); "help" lists commands, Ctrl-D quits.`);

  conn.onEvent = (event) => {
    if (interactive) process.stdout.write('\r\x1b[K');
    out(formatMessage(event, { json, hmp: false }));
    if (interactive) rl.prompt(true);
  };
  let closed = false;
  conn.onClose = () => {
    closed = true;
    if (interactive) out('\nconnection closed by the server');
    rl.close();
  };

  // Lines are handled strictly one after another, as they were typed.
  let chain = Promise.resolve();
  let failures = 0;
  const handle = async (line: string) => {
    const text = line.trim();
    if (!text || closed) return;
    if (text === 'help') { out(`${QMP_CLIENT_USAGE}\ncommands: ${commands.join(' ')}`); return; }
    if (text === 'exit' || text === 'quit-client') { rl.close(); return; }
    const parsed = parseClientLine(text);
    if ('error' in parsed) { out(`tsvisor qmp: ${parsed.error}`); failures++; return; }
    const reply = await Promise.race([conn.request(parsed.request), new Promise<undefined>((r) => conn.socket.once('close', () => r(undefined)))]);
    if (reply === undefined) return;
    if (isObject(reply) && 'error' in reply) failures++;
    out(formatMessage(reply, { json, hmp: parsed.hmp }));
  };
  rl.on('line', (line) => {
    chain = chain.then(() => handle(line)).then(() => { if (interactive && !closed) rl.prompt(); });
  });
  if (interactive) rl.prompt();
  await new Promise<void>((resolve) => rl.once('close', () => resolve()));
  await chain;
  if (interactive) saveHistory((rl as unknown as { history: string[] }).history ?? []);
  conn.socket.destroy();
  return interactive ? 0 : failures > 0 ? 1 : 0;
}
