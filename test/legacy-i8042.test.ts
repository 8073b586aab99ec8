import t from 'tap';
import {
  I8042, I8042_DATA_PORT, I8042_COMMAND_PORT, STATUS_OBF, STATUS_AUXDATA, STATUS_SYSFLAG, CTR_KBDINT, CTR_AUXDIS,
  CMD_READ_CTR, CMD_WRITE_CTR, CMD_SELF_TEST, CMD_KBD_TEST, CMD_AUX_TEST, CMD_WRITE_AUX_OUTPUT, CMD_PULSE_RESET,
  CMD_WRITE_OUTPUT_PORT, CMD_AUX_DISABLE, CMD_AUX_ENABLE, KBD_ACK,
} from '../src/devices/legacy/i8042';
import { DebugExit, DEBUG_EXIT_PORT, debugExitStatus } from '../src/devices/legacy/debug-exit';
import { IoBus } from '../src/devices/bus';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';

function makeKbc() {
  let resets = 0;
  const kbdIrq = new RecordingLine();
  const bus = new IoBus(memoryLogger());
  const kbc = new I8042({ onReset: () => resets++, kbdIrq, log: memoryLogger() });
  kbc.register(bus);
  const status = () => bus.pioRead(I8042_COMMAND_PORT, 1);
  const command = (c: number) => bus.pioWrite(I8042_COMMAND_PORT, 1, c);
  const writeData = (v: number) => bus.pioWrite(I8042_DATA_PORT, 1, v);
  const readData = () => bus.pioRead(I8042_DATA_PORT, 1);
  /** Linux's i8042_command: write, then read one result byte if OBF says there is one. */
  const query = (c: number, param?: number) => {
    command(c);
    if (param !== undefined) writeData(param);
    return status() & STATUS_OBF ? readData() : undefined;
  };
  return { kbc, bus, kbdIrq, status, command, writeData, readData, query, resets: () => resets };
}

t.test("Linux's i8042 probe: flush, self-test, CTR read/write, no AUX port, keyboard test", async (t) => {
  const k = makeKbc();
  t.not(k.status(), 0xff, 'a controller is present');
  t.equal(k.status() & STATUS_OBF, 0, 'nothing to flush');
  t.equal(k.query(CMD_SELF_TEST), 0x55);
  t.ok(k.status() & STATUS_SYSFLAG);
  const ctr = k.query(CMD_READ_CTR) as number;
  t.equal(ctr & CTR_KBDINT, CTR_KBDINT);
  k.query(CMD_WRITE_CTR, ctr & ~CTR_KBDINT);
  t.equal(k.query(CMD_READ_CTR), ctr & ~CTR_KBDINT, 'CTR reads back what was written');
  // i8042_check_aux: the loop echo must not match, then the AUX test reports an error.
  k.command(CMD_WRITE_AUX_OUTPUT);
  k.writeData(0x5a);
  t.equal(k.status() & (STATUS_OBF | STATUS_AUXDATA), STATUS_OBF | STATUS_AUXDATA);
  t.not(k.readData(), 0x5a);
  const auxTest = k.query(CMD_AUX_TEST) as number;
  t.ok(auxTest !== 0 && auxTest !== 0xfa && auxTest !== 0xff, 'AUX reported absent');
  t.equal(k.query(CMD_KBD_TEST), 0x00, 'keyboard interface test passes');
  // AUX enable/disable bits follow the commands.
  k.command(CMD_AUX_DISABLE);
  t.ok((k.query(CMD_READ_CTR) as number) & CTR_AUXDIS);
  k.command(CMD_AUX_ENABLE);
  t.notOk((k.query(CMD_READ_CTR) as number) & CTR_AUXDIS);
  t.equal(k.resets(), 0);
});

t.test('the keyboard answers atkbd: GET ID with an interrupt per byte', async (t) => {
  const k = makeKbc();
  k.query(CMD_WRITE_CTR, 0x47); // KBDINT | SYSFLAG | XLATE (as SeaBIOS leaves it)
  k.writeData(0xf2);
  const got: number[] = [];
  while (k.kbdIrq.level) got.push(k.readData());
  t.same(got, [KBD_ACK, 0xab, 0x41]);
  t.equal(k.kbdIrq.edges, 3, 'one edge per byte, for an edge-triggered IRQ 1');
  k.writeData(0xed); // set LEDs: ACK, then ACK for the parameter
  t.equal(k.readData(), KBD_ACK);
  k.writeData(0x00);
  t.equal(k.readData(), KBD_ACK);
  t.equal(k.status() & STATUS_OBF, 0);
});

t.test('command 0xFE and output-port writes with bit 0 clear reset the machine', async (t) => {
  const k = makeKbc();
  k.command(CMD_PULSE_RESET);
  t.equal(k.resets(), 1);
  k.command(CMD_WRITE_OUTPUT_PORT);
  k.writeData(0x03);
  t.equal(k.resets(), 1, 'reset line held high: no reset');
  k.command(CMD_WRITE_OUTPUT_PORT);
  k.writeData(0x02);
  t.equal(k.resets(), 2);
});

t.test('garbage never throws, save/restore round trips', async (t) => {
  const k = makeKbc();
  t.doesNotThrow(() => {
    for (let v = 0; v < 0x100; v++) if (v !== CMD_PULSE_RESET && (v < 0xf0 || v & 1)) k.command(v);
    for (let v = 0; v < 64; v++) k.writeData(v * 7);
    k.kbc.pioWrite(3, 4, Number.NaN);
    k.kbc.pioRead(2, 2);
  });
  k.writeData(0xf2);
  const state = JSON.parse(JSON.stringify(k.kbc.save()));
  const other = makeKbc();
  other.kbc.restore(state);
  t.same(other.kbc.save(), state);
});

t.test('isa-debug-exit: status is (v << 1) | 1 for every access size', async (t) => {
  const statuses: number[] = [];
  const bus = new IoBus(memoryLogger());
  bus.registerPio(DEBUG_EXIT_PORT, 4, new DebugExit({ onExit: (s) => statuses.push(s) }), 'isa-debug-exit');
  bus.pioWrite(DEBUG_EXIT_PORT, 1, 0);
  bus.pioWrite(DEBUG_EXIT_PORT, 1, 0x31);
  bus.pioWrite(DEBUG_EXIT_PORT, 2, 0x1234);
  bus.pioWrite(DEBUG_EXIT_PORT, 4, 0xffffffff);
  bus.pioWrite(DEBUG_EXIT_PORT, 1, 0x1ff);
  t.same(statuses, [1, 0x63, 0x2469, 0x1ffffffff, 0x1ff]);
  t.equal(debugExitStatus(Number.NaN), 1);
  t.equal(bus.pioRead(DEBUG_EXIT_PORT, 1), 0);
});
