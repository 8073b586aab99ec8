/**
 * The soft MMU: page-fault error codes and CR2, U/S, R/W with CR0.WP, NX,
 * reserved bits, A/D updates, INVLPG and global pages, and 32-bit paging
 * with 4 MiB pages. Each test drives a Cpu directly with hand-built tables.
 */
import t from 'tap';
import { Cpu } from '../src/tcg-fallback/cpu';
import { CpuException } from '../src/tcg-fallback/cpu-exception';
import { handlerTable } from '../src/tcg-fallback/handler-table';
import { GuestMemory } from '../src/memory/guest-memory';
import { IoBus } from '../src/devices/bus';
import { memoryLogger } from '../src/log';
import { assemble } from './tcg-cpu-support';
import {
  CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE, SEG_CS, SEG_SS,
} from '../src/tcg-fallback/cpu-constants';

const CODE = 0x10000;
const PT = 0x4000;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, G = 0x100;

interface Machine { cpu: Cpu; mem: GuestMemory; fault: () => CpuException | undefined }

function longModeMachine(): Machine {
  const mem = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(4 << 20) }]);
  const cpu = new Cpu(mem, new IoBus(memoryLogger()));
  cpu.handlers = handlerTable();
  let caught: CpuException | undefined;
  cpu.policy = { onException: (e) => { caught = e; return true; } };
  mem.writeU32(0x1000, 0x2000 | P | RW | US);
  mem.writeU32(0x2000, 0x3000 | P | RW | US);
  mem.writeU32(0x3000, PT | P | RW | US);
  for (let k = 0; k < 512; k++) mem.writeU32(PT + k * 8, (k * 4096) | P | RW | US);
  cpu.efer = EFER_LME | EFER_LMA | EFER_NXE;
  cpu.cr4 = CR4_PAE | CR4_PGE;
  cpu.cr3 = 0x1000;
  cpu.cr0 = CR0_PE | CR0_PG | CR0_WP | 0x10;
  const cs = cpu.segs[SEG_CS];
  cs.l = true; cs.db = false; cs.type = 0xb; cs.selector = 8; cs.limit = 0xffffffff;
  const ss = cpu.segs[SEG_SS];
  ss.selector = 0x10; ss.db = true; ss.limit = 0xffffffff;
  cpu.cpl = 0;
  cpu.updateMode();
  cpu.mmu.flushAll();
  cpu.lo[4] = 0x80000;
  return { cpu, mem, fault: () => caught };
}

function runAt(m: Machine, source: string, user = false): void {
  const code = assemble(`.intel_syntax noprefix\n${source}\nnop\n`, 64, CODE);
  m.mem.write(CODE, code);
  if (user) {
    m.cpu.cpl = 3;
    m.cpu.segs[SEG_CS].dpl = 3;
    m.cpu.segs[SEG_SS].dpl = 3;
  }
  m.cpu.rip = CODE;
  m.cpu.stopReason = undefined;
  m.cpu.execute(1000, CODE + code.length - 1);
}

function pte(m: Machine, page: number): number { return m.mem.readU32(PT + page * 8); }
function setPte(m: Machine, page: number, lo: number, hi = 0): void {
  m.mem.writeU32(PT + page * 8, lo >>> 0);
  m.mem.writeU32(PT + page * 8 + 4, hi >>> 0);
}

t.test('not-present pages fault with error code 0 (read) / 2 (write) and CR2', async (t) => {
  const m = longModeMachine();
  setPte(m, 0x100, 0);
  runAt(m, 'mov rax, [0x100008]');
  t.equal(m.fault()?.vector, 14);
  t.equal(m.fault()?.errorCode, 0);
  t.equal(m.fault()?.address, 0x100008);
  const w = longModeMachine();
  setPte(w, 0x100, 0);
  runAt(w, 'mov byte ptr [0x100010], 1');
  t.equal(w.fault()?.errorCode, 2);
});

t.test('CR0.WP decides whether supervisor writes to read-only pages fault', async (t) => {
  const m = longModeMachine();
  setPte(m, 0x100, 0x100000 | P | US);
  runAt(m, 'mov byte ptr [0x100000], 1');
  t.equal(m.fault()?.errorCode, 3, 'P|W');
  const n = longModeMachine();
  n.cpu.cr0 &= ~CR0_WP;
  n.cpu.mmu.flushAll();
  setPte(n, 0x100, 0x100000 | P | US);
  runAt(n, 'mov byte ptr [0x100000], 7');
  t.equal(n.fault(), undefined);
  t.equal(n.mem.readU8(0x100000), 7);
});

t.test('user accesses: supervisor pages and read-only pages', async (t) => {
  const m = longModeMachine();
  setPte(m, 0x100, 0x100000 | P | RW);
  runAt(m, 'mov al, [0x100000]', true);
  t.equal(m.fault()?.errorCode, 5, 'P|U');
  const n = longModeMachine();
  setPte(n, 0x100, 0x100000 | P | US);
  runAt(n, 'mov byte ptr [0x100000], 1', true);
  t.equal(n.fault()?.errorCode, 7, 'P|W|U');
});

t.test('NX: fetching from an XD page faults with the I/D bit', async (t) => {
  const m = longModeMachine();
  setPte(m, 0x100, 0x100000 | P | RW | US, 0x80000000);
  runAt(m, 'mov rax, 0x100000\njmp rax');
  t.equal(m.fault()?.errorCode, 0x11);
  t.equal(m.fault()?.address, 0x100000);
});

t.test('reserved bits set RSVD in the error code', async (t) => {
  const m = longModeMachine();
  setPte(m, 0x100, 0x100000 | P | RW | US, 0x00080000);
  runAt(m, 'mov al, [0x100000]');
  t.equal(m.fault()?.errorCode, 9);
});

t.test('accessed and dirty bits', async (t) => {
  const m = longModeMachine();
  runAt(m, 'mov al, [0x100000]\nmov byte ptr [0x101000], 1');
  t.equal(pte(m, 0x100) & (A | D), A, 'a read sets A only');
  t.equal(pte(m, 0x101) & (A | D), A | D, 'a write sets A and D');
});

t.test('the TLB keeps stale entries until INVLPG; global entries survive a CR3 reload', async (t) => {
  const m = longModeMachine();
  m.mem.writeU8(0x200000 - 4096, 0x11); // physical page 0x1ff
  m.mem.writeU8(0x1fe000, 0x22); // physical page 0x1fe
  runAt(m, 'mov al, [0x100000]');
  setPte(m, 0x100, 0x1ff000 | P | RW | US);
  runAt(m, 'mov bl, [0x100000]');
  t.equal(m.cpu.lo[3] & 0xff, 0, 'stale translation still used');
  runAt(m, 'invlpg [0x100000]\nmov bl, [0x100000]');
  t.equal(m.cpu.lo[3] & 0xff, 0x11, 'INVLPG drops it');
  setPte(m, 0x102, 0x1fe000 | P | RW | US | G);
  runAt(m, 'mov cl, [0x102000]');
  setPte(m, 0x102, 0x1ff000 | P | RW | US | G);
  runAt(m, 'mov rax, cr3\nmov cr3, rax\nmov cl, [0x102000]');
  t.equal(m.cpu.lo[1] & 0xff, 0x22, 'global page survives MOV CR3');
});

t.test('32-bit paging with a 4 MiB page (CR4.PSE)', async (t) => {
  const mem = new GuestMemory([{ guestAddress: 0, bytes: new Uint8Array(8 << 20) }]);
  const cpu = new Cpu(mem, new IoBus(memoryLogger()));
  cpu.handlers = handlerTable();
  // PDE 0: 4 MiB identity; PDE 1 (0x400000): 4 MiB page at physical 0.
  mem.writeU32(0x1000, 0x87);
  mem.writeU32(0x1004, 0x87);
  cpu.cr4 = CR4_PSE;
  cpu.cr3 = 0x1000;
  cpu.cr0 = CR0_PE | CR0_PG | 0x10;
  const cs = cpu.segs[SEG_CS];
  cs.db = true; cs.type = 0xb; cs.limit = 0xffffffff;
  for (const s of cpu.segs) { s.base = 0; s.limit = 0xffffffff; s.db = true; }
  cpu.updateMode();
  cpu.mmu.flushAll();
  const code = assemble('.intel_syntax noprefix\nmov dword ptr [0x400100], 0xcafe\nmov eax, [0x100]\nnop\n', 32, CODE);
  mem.write(CODE, code);
  cpu.rip = CODE;
  cpu.execute(100, CODE + code.length - 1);
  t.equal(cpu.lo[0], 0xcafe, 'the alias at 4 MiB reaches physical 0x100');
  t.equal(mem.readU32(0x1004) & 0x60, 0x60, 'PDE accessed and dirty');
});
