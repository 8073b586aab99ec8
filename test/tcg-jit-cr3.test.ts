/**
 * Chain links between blocks and CR3 writes. A link remembers where the
 * next RIP led; a CR3 write may change that for every page but global ones,
 * so links into non-global pages must not survive it, while links into
 * global pages (kernel text) do (ChainSlot.global).
 */
import t from 'tap';
import { CR4_PGE } from '../src/tcg-fallback/cpu-constants';
import { CODE, PT, PTE_P, PTE_RW, runProgram, sameOnEveryTier } from './tcg-jit-support';

const PTE_G = 0x100;
/** A second address space: PML4 0x6000 -> PDPT 0x7000 -> PD 0x8000 -> PT 0x9000. */
const CR3_B = 0x6000;

const SWITCH = `
  mov rbx, 0x100000
  mov rsi, ${CR3_B}
  mov rdi, 0x1000
  mov ecx, 30
  xor edx, edx
again:
  call rbx
  add edx, eax
  mov cr3, rsi
  xchg rsi, rdi
  dec ecx
  jnz again
done:
  nop
`;

t.test('after a CR3 write the same linear address runs the other address space\'s code, while global code stays linked', async (t) => {
  sameOnEveryTier(t, (m, tier) => {
    m.cpu.cr4 |= CR4_PGE;
    // Address space A (the support machine's, CR3 0x1000): the loop's pages global, 0x100000 -> 0x100000.
    for (let k = 0; k < 512; k++) m.mem.writeU32(PT + k * 8, (k * 4096) | PTE_P | PTE_RW | (k * 4096 >= CODE && k * 4096 < CODE + 0x1000 ? PTE_G : 0));
    // Address space B: the same, but 0x100000 -> 0x101000.
    m.mem.writeU32(0x6000, 0x7000 | PTE_P | PTE_RW);
    m.mem.writeU32(0x7000, 0x8000 | PTE_P | PTE_RW);
    m.mem.writeU32(0x8000, 0x9000 | PTE_P | PTE_RW);
    for (let k = 0; k < 512; k++) m.mem.writeU32(0x9000 + k * 8, m.mem.readU32(PT + k * 8));
    m.mem.writeU32(0x9000 + 0x100 * 8, 0x101000 | PTE_P | PTE_RW);
    m.cpu.mmu.flushAll();
    m.mem.write(0x100000, Uint8Array.of(0xb8, 0x11, 0, 0, 0, 0xc3)); // mov eax, 0x11; ret
    m.mem.write(0x101000, Uint8Array.of(0xb8, 0x22, 0, 0, 0, 0xc3)); // mov eax, 0x22; ret
    const { doneAt } = runProgram(m, SWITCH);
    t.equal(m.cpu.rip, doneAt, `${tier}: reached done`);
    t.equal(m.cpu.lo[2], 15 * 0x11 + 15 * 0x22, `${tier}: the calls alternated between the two address spaces' pages`);
  });
});
