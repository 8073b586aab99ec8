import t from 'tap';
import { loadMultiboot, findMultibootHeader, MBI_MMAP_OFFSET, MBI_MODS_OFFSET } from '../src/machine/multiboot';
import { detectKernelFormat } from '../src/machine/kernel-format';
import { buildE820 } from '../src/machine/e820';
import { BOOT_INFO_ADDR, CMDLINE_ADDR, MiB, memoryLayout } from '../src/machine/memory-layout';
import { guestMemory } from './machine-fixtures';
import { MULTIBOOT_HEADER, NO_TOOLCHAIN_MESSAGE, assembleElf, haveToolchain } from './machine-toolchain';

// Linked at 3 GiB + 1 MiB virtual, loaded at 1 MiB physical: the entry must be translated.
const SCRIPT = `
ENTRY(_start)
SECTIONS {
  . = 0xC0100000;
  .text : AT(0x100000) { *(.multiboot) *(.text) }
  .bss : AT(0x101000) { *(.bss) }
}
`;
const KERNEL = `
${MULTIBOOT_HEADER}
.text
.globl _start
_start:
  cli
  hlt
.bss
.space 0x2000
`;

function readCString(mem: ReturnType<typeof guestMemory>, at: number): string {
  let s = '';
  for (let c = mem.readU8(at); c !== 0; c = mem.readU8(++at)) s += String.fromCharCode(c);
  return s;
}

t.test('a Multiboot ELF32: loaded at physical addresses, info structure, EAX/EBX', { skip: haveToolchain() ? false : NO_TOOLCHAIN_MESSAGE }, async (t) => {
  const image = assembleElf(32, KERNEL, SCRIPT);
  t.equal(detectKernelFormat(image), 'multiboot');
  const mem = guestMemory(64 * MiB);
  const e820 = buildE820(memoryLayout(64 * MiB));
  const r = loadMultiboot(mem, image, { cmdline: 'root=/dev/vda', initrd: new Uint8Array(5000).fill(9), e820 });
  t.equal(r.entry.mode, 32);
  t.equal(r.entry.rip, 0x10000cn, 'entry translated from 0xc010000c to its physical address');
  t.equal(r.entry.registers.rax, 0x2badb002n);
  t.equal(r.entry.registers.rbx, BigInt(BOOT_INFO_ADDR));
  t.equal(mem.readU32(0x100000), 0x1badb002, 'header loaded at 1 MiB');
  t.same([...mem.read(0x10000c, 2)], [0xfa, 0xf4], 'cli; hlt');
  const info = BOOT_INFO_ADDR;
  t.equal(mem.readU32(info), 0x24d, 'flags: mem, cmdline, mods, mmap, loader name');
  t.equal(mem.readU32(info + 4), 639, 'mem_lower KiB');
  t.equal(mem.readU32(info + 8), 63 * 1024, 'mem_upper KiB');
  t.equal(mem.readU32(info + 16), CMDLINE_ADDR);
  t.equal(readCString(mem, CMDLINE_ADDR), 'root=/dev/vda');
  t.equal(mem.readU32(info + 20), 1, 'mods_count');
  const mods = mem.readU32(info + 24);
  t.equal(mods, BOOT_INFO_ADDR + MBI_MODS_OFFSET);
  const modStart = mem.readU32(mods);
  t.equal(mem.readU32(mods + 4) - modStart, 5000);
  t.equal(modStart % 4096, 0);
  t.equal(mem.readU8(modStart), 9);
  t.equal(readCString(mem, mem.readU32(mods + 8)), 'initrd');
  t.equal(readCString(mem, mem.readU32(info + 64)), 'tsvisor');
  t.equal(mem.readU32(info + 44), e820.length * 24);
  const mmap = mem.readU32(info + 48);
  t.equal(mmap, BOOT_INFO_ADDR + MBI_MMAP_OFFSET);
  t.same([mem.readU32(mmap), mem.readU64(mmap + 4), mem.readU64(mmap + 12), mem.readU32(mmap + 20)], [20, 0n, 0x9fc00n, 1]);
});

/** A flat image using the header's address fields: header at file offset 0, loaded at 2 MiB. */
function aoutImage(flags = 0x00010000): Uint8Array {
  const image = new Uint8Array(0x100);
  const v = new DataView(image.buffer);
  v.setUint32(0, 0x1badb002, true);
  v.setUint32(4, flags, true);
  v.setUint32(8, (-(0x1badb002 + flags)) >>> 0, true);
  v.setUint32(12, 0x200000, true); // header_addr
  v.setUint32(16, 0x200000, true); // load_addr
  v.setUint32(20, 0x200100, true); // load_end_addr
  v.setUint32(24, 0x202000, true); // bss_end_addr
  v.setUint32(28, 0x200040, true); // entry_addr
  image[0x40] = 0xf4;
  return image;
}

t.test('the a.out kludge: address fields from the header, BSS zeroed', async (t) => {
  const image = aoutImage();
  t.equal(findMultibootHeader(image)?.entryAddr, 0x200040);
  t.equal(detectKernelFormat(image), 'multiboot');
  const mem = guestMemory(16 * MiB);
  mem.mustView(0x200100, 0x1f00).fill(0xaa);
  const r = loadMultiboot(mem, image, { cmdline: '', e820: buildE820(memoryLayout(16 * MiB)) });
  t.equal(r.entry.rip, 0x200040n);
  t.equal(mem.readU8(0x200040), 0xf4);
  t.equal(mem.readU8(0x201fff), 0, 'BSS zeroed');
  t.same(r.kernel, { address: 0x200000, size: 0x2000 });
});

t.test('Multiboot refusals', async (t) => {
  const mem = guestMemory(16 * MiB);
  const e820 = buildE820(memoryLayout(16 * MiB));
  t.throws(() => loadMultiboot(mem, new Uint8Array(8192), { cmdline: '', e820 }), /^not a Multiboot kernel: no header/);
  const badSum = aoutImage();
  badSum[8] ^= 1;
  t.equal(findMultibootHeader(badSum), undefined, 'a bad checksum is no header');
  t.throws(() => loadMultiboot(mem, aoutImage(0x00010010), { cmdline: '', e820 }), { message: 'Multiboot header requires features tsvisor does not provide (flags 0x10)' });
  t.throws(() => loadMultiboot(mem, aoutImage(0x00000000), { cmdline: '', e820 }), { message: 'Multiboot: not an ELF image and no header address fields (flag 16)' });
});
