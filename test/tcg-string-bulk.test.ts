/**
 * Forward REP MOVS/STOS in 64-bit code move a page at a time
 * (ops-string-bulk.ts). What the guest must see: the bytes x86 would leave,
 * on every tier, including where the fast path has to step aside.
 */
import t from 'tap';
import { CpuException } from '../src/tcg-fallback/cpu-exception';
import { PTE_P, PTE_RW, TIERS, machine, runProgram } from './tcg-jit-support';

/** Maps linear 0x400000.. (the next 2 MiB) to physical 0x300000.. through a second page table at 0x5000. */
function mapHighWindow(m: ReturnType<typeof machine>, pages: number): void {
  m.mem.writeU32(0x3000 + 2 * 8, 0x5000 | PTE_P | PTE_RW); // PD entry 2 (the support machine: PML4 0x1000, PDPT 0x2000, PD 0x3000)
  for (let k = 0; k < pages; k++) m.mem.writeU32(0x5000 + k * 8, (0x300000 + k * 4096) | PTE_P | PTE_RW);
  m.cpu.mmu.flushAll();
}

for (const tier of TIERS) {
  t.test(`${tier}: rep movsb between pages that share a TLB slot copies the source`, async (t) => {
    const m = machine(tier);
    mapHighWindow(m, 64);
    // Linear 0x30000 and 0x430000 are 4 MiB apart: the same TLB slot, so translating one evicts the other.
    const src = Uint8Array.from({ length: 6000 }, (_, k) => (k * 7 + 3) & 0xff);
    m.mem.write(0x30000, src);
    runProgram(m, `
  mov rsi, 0x30000
  mov rdi, 0x430000
  mov rcx, 6000
  cld
  rep movsb
done:
`);
    t.notOk(m.fault(), 'no fault');
    t.same(m.mem.read(0x330000, 6000), src, 'the destination (physical 0x330000) holds the source bytes');
    t.equal(m.cpu.lo[1], 0, 'RCX counted down to 0');
    t.equal(m.cpu.lo[7], 0x430000 + 6000, 'RDI advanced');
  });

  t.test(`${tier}: rep movsb onto the byte after its source repeats the first byte, as x86 does`, async (t) => {
    const m = machine(tier);
    m.mem.write(0x40000, Uint8Array.of(0xab, 1, 2, 3, 4, 5, 6, 7));
    runProgram(m, `
  mov rsi, 0x40000
  mov rdi, 0x40001
  mov rcx, 5000
  cld
  rep movsb
done:
`);
    t.same(m.mem.read(0x40000, 5001), new Uint8Array(5001).fill(0xab), 'a run of 0xab, not a shifted copy');
  });

  t.test(`${tier}: rep stosq over three pages, then a fault on an absent page leaves RCX/RDI at the first element not stored`, async (t) => {
    const m = machine(tier);
    mapHighWindow(m, 3); // 0x403000 is not present
    runProgram(m, `
  mov rax, 0x1122334455667788
  mov rdi, 0x400010
  mov rcx, 2000
  cld
  rep stosq
done:
`, 100);
    const e = m.fault();
    t.ok(e instanceof CpuException && e.vector === 14, '#PF on the fourth page');
    const stored = (0x3000 - 0x10) / 8;
    t.equal(m.cpu.lo[7], 0x403000, 'RDI at the absent page');
    t.equal(m.cpu.lo[1], 2000 - stored, 'RCX counts only the elements stored');
    const view = new DataView(m.mem.read(0x300010, stored * 8).buffer);
    let ok = true;
    for (let k = 0; k < stored; k++) if (view.getBigUint64(k * 8, true) !== 0x1122334455667788n) ok = false;
    t.ok(ok, `the ${stored} quadwords before it hold RAX`);
  });
}
