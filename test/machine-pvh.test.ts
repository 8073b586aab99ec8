import t from 'tap';
import { loadPvh, pvhEntry, HVM_START_MAGIC, HVM_MEMMAP_OFFSET, HVM_MODLIST_OFFSET } from '../src/machine/pvh';
import { parseElf } from '../src/machine/elf';
import { detectKernelFormat } from '../src/machine/kernel-format';
import { buildE820 } from '../src/machine/e820';
import { BOOT_INFO_ADDR, CMDLINE_ADDR, MiB, memoryLayout } from '../src/machine/memory-layout';
import { guestMemory } from './machine-fixtures';
import { MULTIBOOT_HEADER, NO_TOOLCHAIN_MESSAGE, assembleElf, haveToolchain, pvhNote } from './machine-toolchain';

const SCRIPT = `
ENTRY(pvh_start)
SECTIONS {
  . = 0x1000000;
  .text : { *(.multiboot) *(.text) }
  .note : { *(.note.Xen) }
  .data : { *(.data) }
  .bss : { *(.bss) }
}
`;
const BODY = `
.text
.code32
.globl pvh_start
pvh_start:
  hlt
  jmp pvh_start
.data
.long 0x12345678
.bss
.space 0x3000
`;
const KERNEL = pvhNote(64) + BODY;

const skip = haveToolchain() ? false : NO_TOOLCHAIN_MESSAGE;

t.test('a PVH vmlinux: segments at their physical addresses, hvm_start_info, 32-bit entry with EBX', { skip }, async (t) => {
  const image = assembleElf(64, KERNEL, SCRIPT);
  t.equal(detectKernelFormat(image), 'pvh-elf');
  const elf = parseElf(image);
  t.equal(elf.class, 64);
  t.equal(pvhEntry(elf), 0x1000000);
  const mem = guestMemory(64 * MiB);
  mem.mustView(0x1000000, 0x10000).fill(0xee); // the BSS must come back zeroed
  const e820 = buildE820(memoryLayout(64 * MiB));
  const initrd = new Uint8Array(10000).fill(7);
  const r = loadPvh(mem, image, { cmdline: 'console=hvc0', initrd, e820, acpiRsdpAddr: 0xe0000 });
  t.equal(r.entry.mode, 32);
  t.equal(r.entry.rip, 0x1000000n);
  t.equal(r.entry.registers.rbx, BigInt(BOOT_INFO_ADDR));
  t.same([...mem.read(0x1000000, 3)], [0xf4, 0xeb, 0xfd], 'hlt; jmp pvh_start');
  const dataAt = elf.segments.find((s) => s.type === 1 && s.filesz < s.memsz);
  t.ok(dataAt, 'a segment with BSS');
  if (dataAt) t.equal(mem.readU8(dataAt.paddr + dataAt.memsz - 1), 0, 'BSS zeroed');
  t.equal(mem.readU32(BOOT_INFO_ADDR), HVM_START_MAGIC);
  t.equal(mem.readU32(BOOT_INFO_ADDR + 4), 1, 'version 1');
  t.equal(mem.readU32(BOOT_INFO_ADDR + 0x0c), 1, 'one module');
  t.equal(mem.readU64(BOOT_INFO_ADDR + 0x18), BigInt(CMDLINE_ADDR));
  t.equal(new TextDecoder().decode(mem.read(CMDLINE_ADDR, 13)), 'console=hvc0\0');
  t.equal(mem.readU64(BOOT_INFO_ADDR + 0x20), 0xe0000n, 'rsdp_paddr');
  const modlist = Number(mem.readU64(BOOT_INFO_ADDR + 0x10));
  t.equal(modlist, BOOT_INFO_ADDR + HVM_MODLIST_OFFSET);
  const initrdAddr = Number(mem.readU64(modlist));
  t.equal(mem.readU64(modlist + 8), 10000n);
  t.equal(initrdAddr, 64 * MiB - 3 * 4096);
  t.same(mem.read(initrdAddr, 10000), initrd);
  t.equal(mem.readU64(BOOT_INFO_ADDR + 0x28), BigInt(BOOT_INFO_ADDR + HVM_MEMMAP_OFFSET));
  t.equal(mem.readU32(BOOT_INFO_ADDR + 0x30), e820.length);
  const m = BOOT_INFO_ADDR + HVM_MEMMAP_OFFSET + 2 * 24;
  t.same([mem.readU64(m), mem.readU64(m + 8), mem.readU32(m + 16)], [0x100000n, BigInt(63 * MiB), 1]);
});

t.test('ELF64 with both a PVH note and a Multiboot header boots PVH; ELF32 with both boots Multiboot', { skip }, async (t) => {
  t.equal(detectKernelFormat(assembleElf(64, MULTIBOOT_HEADER + pvhNote(64) + BODY, SCRIPT)), 'pvh-elf');
  t.equal(detectKernelFormat(assembleElf(32, MULTIBOOT_HEADER + pvhNote(32) + BODY, SCRIPT)), 'multiboot');
  t.equal(detectKernelFormat(assembleElf(32, pvhNote(32) + BODY, SCRIPT)), 'pvh-elf', 'a 32-bit PVH ELF');
});

t.test('PVH refusals: no note, segment outside RAM, segment in the boot area', { skip }, async (t) => {
  const e820 = buildE820(memoryLayout(16 * MiB));
  const mem = guestMemory(16 * MiB);
  const noNote = assembleElf(64, BODY, SCRIPT);
  t.equal(detectKernelFormat(noNote), 'unknown');
  t.throws(() => loadPvh(mem, noNote, { cmdline: '', e820 }), { message: 'ELF kernel has no PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY note, type 18, name "Xen")' });
  t.throws(() => loadPvh(mem, assembleElf(64, KERNEL, SCRIPT), { cmdline: '', e820 }), /^kernel too big for RAM: segment 0x1000000-0x100\w+ is not inside usable RAM$/);
  const low = assembleElf(64, KERNEL, SCRIPT.replace('0x1000000', '0x8000'));
  t.throws(() => loadPvh(mem, low, { cmdline: '', e820 }), /overlaps the boot area below 1 MiB/);
  t.throws(() => parseElf(assembleElf(64, KERNEL, SCRIPT).subarray(0, 200)), /^truncated ELF/);
});
