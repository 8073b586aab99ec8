/**
 * Tens of thousands of random, truncated, deeply nested, garbage and
 * oversized inputs. The monitor must answer every complete message exactly
 * once (echoing its id), answer everything else with well-formed errors,
 * resynchronise, and keep serving, all within a few seconds.
 *
 * Each unit is followed by a sentinel request; the replies between two
 * sentinels belong to one unit. Broken units are followed by a 0xFF byte
 * and a newline first, the resynchronisation QEMU documents for clients.
 */
import t from 'tap';
import { RawQmpClient, startFakeMonitor } from './helpers/qmp-socket';

const UNITS = Number(process.env.QMP_FUZZ_UNITS ?? 20000);
const SEED = Number(process.env.QMP_FUZZ_SEED ?? 20261124);
const MAX_MESSAGE = 64 * 1024;

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}
const rand = lcg(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];

const COMMANDS = ['query-status', 'query-version', 'query-name', 'query-kvm', 'query-target', 'query-commands', 'query-cpus-fast',
  'query-chardev', 'query-block', 'query-uuid', 'query-machines', 'stop', 'cont', 'system_reset', 'system_powerdown',
  'human-monitor-command', 'device-list-properties', 'qmp_capabilities', 'query-balloon', 'no-such', 'quit!', '', '__proto__'];
const KEYS = ['execute', 'arguments', 'id', 'exec-oob', 'command-line', 'typename', 'cpu-index', 'enable', '__proto__', 'constructor', 'x', ''];

function randomString(): string {
  const alphabet = ['a', 'Z', ' ', '"', '\\', '/', '\n', '\t', '\u0001', 'é', '€', '😀', '\u2028', "'", '{', '}', '[', ']'];
  return Array.from({ length: int(12) }, () => pick(alphabet)).join('');
}

function randomValue(depth: number): unknown {
  const kind = int(depth > 5 ? 5 : 8);
  switch (kind) {
    case 0: return null;
    case 1: return rand() < 0.5;
    case 2: return pick([0, -1, 42, 2 ** 53, -(2 ** 31), 1.5, 1e21, -2.5e-7]);
    case 3: case 4: return randomString();
    case 5: return Array.from({ length: int(4) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(5); i > 0; i--) Object.defineProperty(o, rand() < 0.5 ? pick(KEYS) : randomString(), { value: randomValue(depth + 1), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

function randomRequest(): { text: string; id: unknown } {
  const req: Record<string, unknown> = { execute: pick(COMMANDS) };
  if (rand() < 0.5) req.arguments = rand() < 0.7 ? randomValue(5) : { 'command-line': pick(['info status', 'info cpus', 'info version', 'bogus', 'info registers']) };
  const id = randomValue(3);
  req.id = id;
  return { text: JSON.stringify(req), id };
}

type Unit = { kind: 'request'; bytes: Buffer; id: unknown } | { kind: 'value' | 'broken'; bytes: Buffer };

function makeUnit(): Unit {
  const r = rand();
  if (r < 0.35) {
    const { text, id } = randomRequest();
    return { kind: 'request', bytes: Buffer.from(text + pick(['\n', '\r\n', '', ' '])), id };
  }
  if (r < 0.6) return { kind: 'value', bytes: Buffer.from(JSON.stringify(randomValue(0)) + '\n') };
  let bytes: Buffer;
  if (r < 0.8) {
    const whole = Buffer.from(randomRequest().text);
    bytes = whole.subarray(0, int(whole.length));
  } else if (r < 0.93) {
    bytes = Buffer.from(Array.from({ length: int(40) }, () => int(256)));
  } else {
    const depth = 100 + int(1500);
    // Over the nesting limit or not; closing brackets past the reset each earn an error, as in QEMU.
    bytes = Buffer.from(pick(['[', '{"a":', '[{"x":']).repeat(Math.ceil(depth / 5)) + (rand() < 0.5 ? ']'.repeat(int(40)) : ''));
  }
  return { kind: 'broken', bytes: Buffer.concat([bytes, Buffer.from([0xff, 0x0a])]) };
}

/** JSON with sorted keys: ids come back with QEMU's member order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** ASCII-only text for TAP output (control and line-separator characters would break the stream). */
function printable(v: unknown): string {
  const text = typeof v === 'string' ? JSON.stringify(v) : canonical(v);
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const ERROR_CLASSES = new Set(['GenericError', 'CommandNotFound', 'DeviceNotFound', 'DeviceNotActive', 'KVMMissingCap']);

function wellFormed(m: Record<string, unknown>): boolean {
  if ('event' in m) return typeof m.event === 'string';
  if ('return' in m) return true;
  const e = m.error as { class?: unknown; desc?: unknown } | undefined;
  return !!e && typeof e.class === 'string' && ERROR_CLASSES.has(e.class) && typeof e.desc === 'string';
}

t.test(`fuzz: ${UNITS} random units (seed ${SEED})`, async (t) => {
  const mon = await startFakeMonitor({ cpus: 2 }, { maxMessageBytes: MAX_MESSAGE });
  t.teardown(() => mon.stop());
  let client: RawQmpClient = await mon.client();
  let failures = 0;
  const fail = (what: string) => { if (failures++ < 20) t.fail(what); };
  const started = Date.now();
  let replies = 0;
  const BATCH = 250;
  for (let done = 0; done < UNITS; done += BATCH) {
    const units = Array.from({ length: Math.min(BATCH, UNITS - done) }, makeUnit);
    const chunks: Buffer[] = [];
    units.forEach((u, i) => {
      chunks.push(u.bytes, Buffer.from(`\n{"execute":"query-status","id":"s${done + i}"}\n`));
    });
    client.write(Buffer.concat(chunks));
    for (let i = 0; i < units.length; i++) {
      const u = units[i];
      const got: Array<Record<string, unknown>> = [];
      for (;;) {
        let m: Record<string, unknown>;
        try {
          m = await client.next(10000);
        } catch (e) {
          t.fail(`${String(e)} after unit ${printable(u.bytes.toString('latin1'))}, replies so far ${printable(got).slice(0, 500)}`);
          return;
        }
        replies++;
        if (!wellFormed(m)) fail(`malformed reply ${printable(m)} to ${printable(u.bytes.toString('latin1'))}`);
        if ('event' in m) continue;
        if (m.id === `s${done + i}`) break;
        got.push(m);
      }
      if (u.kind === 'request') {
        if (got.length !== 1) fail(`${got.length} replies to ${printable(u.bytes.toString('latin1'))}`);
        else if (canonical(got[0].id) !== canonical(u.id)) fail(`id ${printable(got[0].id)} for ${printable(u.id)}`);
      } else if (u.kind === 'value' && got.length !== 1) {
        fail(`${got.length} replies to value ${printable(u.bytes.toString('latin1'))}`);
      }
    }
    if (mon.vm.quitCalled) t.fail('quit was reached by fuzz input (it is not among the commands sent)');
  }
  t.equal(failures, 0, `every unit answered correctly (${replies} messages received)`);

  // Oversized inputs: an error, a disconnect, and the monitor goes on.
  for (let i = 0; i < 5; i++) {
    const victim = await mon.client();
    // A string that never ends, or a list that never closes: both are one message too large.
    const [open, fill] = pick([['"', 'x'], ['"', 'é'], ['{"a":"', 'x'], ['{"a":[', '1,'], ['[', '"x",']] as const);
    victim.write(open + fill.repeat(MAX_MESSAGE));
    const m = await victim.next();
    t.same(m.error, { class: 'GenericError', desc: 'JSON token size limit exceeded' }, 'oversized input refused');
    await victim.waitClosed();
  }
  client.close();
  client = await mon.client();
  t.same(Object.keys((await client.execute('query-status')).return as object).sort(), ['running', 'singlestep', 'status'], 'still serving');
  t.ok(Date.now() - started < 30000, `finished in ${Date.now() - started} ms`);
});
