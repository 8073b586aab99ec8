import t from 'tap';
import {
  Serial16550, UART_DATA, UART_IER, UART_IIR, UART_FCR, UART_LCR, UART_MCR, UART_LSR, UART_MSR, UART_SCR,
  IER_RDA, IER_THRE, IER_RLS, IIR_NO_INT, IIR_THRE, IIR_RDA, IIR_RX_TIMEOUT, IIR_RLS, IIR_FIFO_ENABLED,
  LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT, MCR_DTR, MCR_RTS, MCR_OUT2, MCR_LOOP, COM1_PORT, COM1_IRQ, COM2_PORT, COM2_IRQ,
} from '../src/devices/legacy/serial';
import { RecordingLine } from '../src/devices/irq';
import { memoryLogger } from '../src/log';

function makeUart(hostInputLimit?: number) {
  const irq = new RecordingLine();
  const out: number[] = [];
  const log = memoryLogger();
  const uart = new Serial16550({ irq, output: (b) => out.push(...b), log, hostInputLimit });
  const rd = (reg: number) => uart.pioRead(reg, 1);
  const wr = (reg: number, v: number) => uart.pioWrite(reg, 1, v);
  return { uart, irq, out, log, rd, wr };
}

t.test('PC port constants', async (t) => {
  t.equal(COM1_PORT, 0x3f8);
  t.equal(COM1_IRQ, 4);
  t.equal(COM2_PORT, 0x2f8);
  t.equal(COM2_IRQ, 3);
});

t.test("Linux 8250 autoconfig identifies a 16550A", async (t) => {
  const { rd, wr, irq } = makeUart();
  // IER probe: upper nibble must read back zero.
  const savedIer = rd(UART_IER);
  wr(UART_IER, 0);
  t.equal(rd(UART_IER) & 0x0f, 0);
  wr(UART_IER, 0xff);
  t.equal(rd(UART_IER), 0x0f, 'only the low four IER bits exist');
  wr(UART_IER, savedIer);
  // Loopback test: MCR = LOOP | OUT2 | RTS must show DCD | CTS in MSR.
  const saveMcr = rd(UART_MCR);
  const saveLcr = rd(UART_LCR);
  wr(UART_MCR, MCR_LOOP | 0x0a);
  t.equal(rd(UART_MSR) & 0xf0, 0x90, 'loopback reflects OUT2->DCD and RTS->CTS');
  wr(UART_MCR, saveMcr);
  // EFR probe at LCR 0xBF must not find a 16650's EFR (reads as IIR, non-zero once FIFOs are on).
  wr(UART_LCR, 0xbf);
  wr(UART_IIR, 0);
  wr(UART_LCR, 0);
  wr(UART_FCR, 0x01);
  t.equal(rd(UART_IIR) >> 6, 3, 'FIFO enabled bits read 11: a 16550A');
  wr(UART_LCR, 0xbf);
  t.not(rd(UART_IIR), 0, 'no EFR');
  // 16750 check: 64-byte FIFO bit must not appear in IIR.
  wr(UART_LCR, 0);
  wr(UART_FCR, 0x01 | 0x20);
  t.equal(rd(UART_IIR) >> 5, 6);
  wr(UART_LCR, LCR_DLAB_FOR_TEST);
  wr(UART_FCR, 0x01 | 0x20);
  t.equal(rd(UART_IIR) >> 5, 6, 'not a 16750');
  // Divisor latch.
  wr(UART_DATA, 0x01);
  wr(UART_IER, 0x00);
  t.equal(rd(UART_DATA), 0x01);
  t.equal(rd(UART_IER), 0x00);
  wr(UART_LCR, saveLcr);
  t.equal(rd(UART_IER), savedIer, 'DLAB off shows IER again');
  // Scratch register.
  wr(UART_SCR, 0xa5);
  t.equal(rd(UART_SCR), 0xa5);
  t.equal(irq.edges, 0, 'probing never raised the IRQ');
});
const LCR_DLAB_FOR_TEST = 0x80;

t.test('Linux 8250 startup: LSR sanity, THRE-on-enable test, 8N1 with OUT2', async (t) => {
  const { rd, wr, irq } = makeUart();
  wr(UART_FCR, 0x01);
  wr(UART_FCR, 0x01 | 0x02 | 0x04);
  wr(UART_FCR, 0);
  rd(UART_LSR);
  rd(UART_DATA);
  rd(UART_IIR);
  rd(UART_MSR);
  t.not(rd(UART_LSR), 0xff, 'LSR safety check passes');
  wr(UART_LCR, 0x03);
  wr(UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  // UART_BUG_THRE test: THRE interrupt shows right after enabling it, both times.
  wr(UART_IER, IER_THRE);
  const iir1 = rd(UART_IIR);
  wr(UART_IER, 0);
  wr(UART_IER, IER_THRE);
  const iir = rd(UART_IIR);
  wr(UART_IER, 0);
  t.equal(iir1 & 0x0f, IIR_THRE);
  t.equal(iir & 0x0f, IIR_THRE);
  // UART_BUG_TXEN test.
  wr(UART_IER, IER_THRE);
  const lsr = rd(UART_LSR);
  const iir2 = rd(UART_IIR);
  wr(UART_IER, 0);
  t.ok(lsr & LSR_TEMT);
  t.equal(iir2 & IIR_NO_INT, 0, 'THRE interrupt pending, so no TXEN bug');
  t.equal(irq.level, false);
  wr(UART_FCR, 0x01 | 0x80);
  t.equal(rd(UART_IIR), IIR_FIFO_ENABLED | IIR_NO_INT);
});

t.test('polling firmware: THR write goes out, LSR always shows an empty transmitter', async (t) => {
  const { rd, wr, out, irq } = makeUart();
  for (const c of Buffer.from('ok\n')) {
    t.ok(rd(UART_LSR) & LSR_THRE);
    wr(UART_DATA, c);
  }
  t.equal(Buffer.from(out).toString(), 'ok\n');
  t.equal(rd(UART_LSR), LSR_THRE | LSR_TEMT);
  t.equal(irq.level, false, 'no interrupts without IER');
});

t.test('interrupt-driven TX: THRE interrupt after each byte, cleared by IIR read', async (t) => {
  const { rd, wr, out, irq } = makeUart();
  wr(UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  wr(UART_FCR, 0xc1);
  wr(UART_IER, IER_RDA | IER_RLS);
  t.equal(irq.level, false);
  // start_tx: enable THRI, the interrupt fires at once.
  wr(UART_IER, IER_RDA | IER_RLS | IER_THRE);
  t.equal(irq.level, true);
  const msg = Buffer.from('hello');
  let sent = 0;
  // The interrupt handler: read IIR, fill up to 16 bytes, repeat until no interrupt.
  for (let rounds = 0; irq.level && rounds < 10; rounds++) {
    const iir = rd(UART_IIR);
    if (iir & IIR_NO_INT) break;
    t.equal(iir & 0x0f, IIR_THRE);
    t.equal(irq.level, false, 'reading IIR acknowledged THRE');
    if (sent === msg.length) {
      wr(UART_IER, IER_RDA | IER_RLS); // stop_tx
      continue;
    }
    for (let n = 0; n < 16 && sent < msg.length; n++) wr(UART_DATA, msg[sent++]);
    t.equal(irq.level, true, 'THR empty again: next THRE interrupt');
  }
  t.equal(Buffer.from(out).toString(), 'hello');
  t.equal(irq.level, false);
  t.equal(rd(UART_IIR) & 0x0f, IIR_NO_INT);
});

t.test('interrupt-driven RX: data available below and at the trigger level', async (t) => {
  const { uart, rd, wr, irq } = makeUart();
  wr(UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  wr(UART_FCR, 0x81); // FIFO on, trigger 8
  wr(UART_IER, IER_RDA | IER_RLS);
  uart.enqueueInput(Buffer.from('ab'));
  t.equal(irq.level, true);
  t.equal(rd(UART_IIR), IIR_FIFO_ENABLED | IIR_RX_TIMEOUT, 'below trigger: character timeout');
  uart.enqueueInput(Buffer.from('cdefghij'));
  t.equal(rd(UART_IIR), IIR_FIFO_ENABLED | IIR_RDA, 'at trigger: data available');
  const got: number[] = [];
  while (rd(UART_LSR) & LSR_DR) got.push(rd(UART_DATA));
  t.equal(Buffer.from(got).toString(), 'abcdefghij');
  t.equal(irq.level, false, 'drained FIFO drops the line');
  t.equal(rd(UART_IIR), IIR_FIFO_ENABLED | IIR_NO_INT);
});

t.test('OUT2 gates the interrupt line', async (t) => {
  const { uart, rd, wr, irq } = makeUart();
  wr(UART_IER, IER_RDA);
  uart.enqueueInput(Uint8Array.of(0x41));
  t.equal(irq.level, false, 'no OUT2: nothing reaches the PIC');
  t.equal(rd(UART_IIR) & 0x0f, IIR_RDA, 'but the UART reports the source');
  wr(UART_MCR, MCR_OUT2);
  t.equal(irq.level, true);
  rd(UART_DATA);
  t.equal(irq.level, false);
});

t.test('host input beyond the FIFO waits in the host buffer; beyond the bound it is dropped', async (t) => {
  const { uart, rd, log } = makeUart(20);
  // Without FIFOs the receiver holds one byte; the rest waits.
  t.equal(uart.enqueueInput(new Uint8Array(30).map((_, i) => i)), 21, 'one in the receiver, 20 in the host buffer');
  t.equal(log.lines.filter((l) => l.startsWith('warn')).length, 1);
  t.equal(uart.canAcceptInput(), false);
  const got: number[] = [];
  while (rd(UART_LSR) & LSR_DR) got.push(rd(UART_DATA));
  t.same(got, Array.from({ length: 21 }, (_, i) => i), 'order kept, no overrun reported');
  t.equal(uart.canAcceptInput(), true);
  t.equal(uart.pendingInput(), 0);
});

t.test('loopback: THR bytes come back on RBR, overrun sets OE and a line status interrupt', async (t) => {
  const { uart, rd, wr, out } = makeUart();
  wr(UART_FCR, 0x01);
  wr(UART_MCR, MCR_LOOP);
  for (let i = 0; i < 17; i++) wr(UART_DATA, i);
  t.same(out, [], 'nothing leaves in loopback');
  wr(UART_IER, IER_RLS);
  t.equal(rd(UART_IIR) & 0x0f, IIR_RLS);
  const lsr = rd(UART_LSR);
  t.ok(lsr & LSR_OE);
  t.ok(lsr & LSR_DR);
  t.notOk(rd(UART_LSR) & LSR_OE, 'OE clears on read');
  let n = 0;
  while (rd(UART_LSR) & LSR_DR) t.equal(rd(UART_DATA), n++);
  t.equal(n, 16);
  // Host input waits while in loopback.
  uart.enqueueInput(Uint8Array.of(0x7a));
  t.notOk(rd(UART_LSR) & LSR_DR);
  wr(UART_MCR, 0);
  t.equal(rd(UART_DATA), 0x7a);
});

t.test('hostile accesses never throw; wide accesses split into bytes', async (t) => {
  const { uart } = makeUart();
  t.doesNotThrow(() => {
    uart.pioWrite(9, 1, 0x1234);
    uart.pioWrite(7, 4, 0xffffffff);
    uart.pioWrite(0, 2, Number.NaN);
    uart.pioRead(100, 4);
  });
  uart.pioWrite(UART_SCR, 1, 0x1ff);
  t.equal(uart.pioRead(UART_SCR, 1), 0xff);
  t.equal(uart.pioRead(UART_SCR, 2), 0xffff, 'bytes past the register block read 0xff');
});

t.test('save/restore keeps FIFO, registers and the interrupt level', async (t) => {
  const a = makeUart();
  a.wr(UART_FCR, 0x01);
  a.wr(UART_MCR, MCR_OUT2);
  a.wr(UART_IER, IER_RDA);
  a.uart.enqueueInput(Buffer.from('xyz'));
  const state = JSON.parse(JSON.stringify(a.uart.save()));
  const b = makeUart();
  b.uart.restore(state);
  t.equal(b.irq.level, true);
  t.equal(b.rd(UART_DATA), 0x78);
  t.same(b.uart.save().rxFifo, [0x79, 0x7a]);
});
