import t from 'tap';
import { EventEmitter } from 'node:events';
import { ConsoleInput } from '../src/cli/console';

/** A stand-in for process.stdin: a TTY or a pipe, recording raw-mode changes. */
class FakeStdin extends EventEmitter {
  rawModes: boolean[] = [];
  constructor(readonly isTTY: boolean) { super(); }
  setRawMode(mode: boolean): this { this.rawModes.push(mode); return this; }
  resume(): this { return this; }
  pause(): this { return this; }
}

function setup(isTTY: boolean) {
  const stdin = new FakeStdin(isTTY);
  const sent: number[] = [];
  let quits = 0;
  const input = new ConsoleInput(stdin as unknown as NodeJS.ReadStream, {
    toGuest: (bytes) => sent.push(...bytes),
    quit: () => { quits++; },
  });
  input.start();
  return { stdin, sent, quits: () => quits, input };
}

t.test('on a TTY the console is raw, Ctrl-A x quits and Ctrl-A Ctrl-A sends one Ctrl-A', async (t) => {
  const { stdin, sent, quits, input } = setup(true);
  t.same(stdin.rawModes, [true], 'raw mode on start');
  stdin.emit('data', Buffer.from('ls\r\x03'));
  t.same(sent, [...Buffer.from('ls\r\x03')], 'ordinary keys, Ctrl-C included, go to the guest');
  stdin.emit('data', Buffer.from([0x01, 0x01]));
  t.same(sent.slice(-1), [0x01], 'Ctrl-A Ctrl-A sends one Ctrl-A');
  stdin.emit('data', Buffer.from([0x01]));
  stdin.emit('data', Buffer.from('x'));
  t.equal(quits(), 1, 'Ctrl-A then x, even split across reads, quits');
  input.stop();
  t.same(stdin.rawModes, [true, false], 'the terminal is restored');
});

t.test('an unknown escape is dropped, as QEMU does', async (t) => {
  const { stdin, sent, quits } = setup(true);
  stdin.emit('data', Buffer.from([0x01, 0x71 /* q */, 0x41]));
  t.same(sent, [0x41]);
  t.equal(quits(), 0);
});

t.test('from a pipe every byte passes through untouched', async (t) => {
  const { stdin, sent, quits } = setup(false);
  t.same(stdin.rawModes, [], 'no raw mode on a pipe');
  stdin.emit('data', Buffer.from([0x01, 0x78, 0x0a]));
  t.same(sent, [0x01, 0x78, 0x0a]);
  t.equal(quits(), 0);
});
