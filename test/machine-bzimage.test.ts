import t from 'tap';
import { loadBzImage, ZP } from '../src/machine/linux-boot';
import { HDR, parseSetupHeader } from '../src/machine/bzimage';
import { E820_RAM, E820_RESERVED } from '../src/machine/e820';
import { CMDLINE_ADDR, MiB, ZERO_PAGE_ADDR } from '../src/machine/memory-layout';
import { NO_GUEST_MESSAGE, builtGuest, fakeBzImage, guestMemory } from './machine-fixtures';

function readE820(mem: ReturnType<typeof guestMemory>): { addr: bigint; size: bigint; type: number }[] {
  const n = mem.readU8(ZERO_PAGE_ADDR + ZP.e820Entries);
  return Array.from({ length: n }, (_, i) => {
    const at = ZERO_PAGE_ADDR + ZP.e820Table + i * 20;
    return { addr: mem.readU64(at), size: mem.readU64(at + 8), type: mem.readU32(at + 16) };
  });
}

t.test('a synthetic 2.15 bzImage: kernel at 1 MiB, boot_params filled, 64-bit entry', async (t) => {
  const mem = guestMemory(64 * MiB);
  const image = fakeBzImage();
  const initrd = new Uint8Array(3 * 4096 + 5).fill(0x5a);
  const r = loadBzImage(mem, image, { cmdline: 'console=ttyS0 quiet', initrd, acpiRsdpAddr: 0xe0000 });
  t.same(mem.read(0x100000, 0x10000), image.subarray(5 * 512), 'protected-mode kernel at 1 MiB');
  t.equal(r.entry.mode, 64);
  t.equal(r.entry.rip, 0x100200n);
  t.equal(r.entry.registers.rsi, BigInt(ZERO_PAGE_ADDR));
  t.equal(r.entry.registers.rflags, 0x2n, 'interrupts off');
  t.equal(mem.readU32(ZERO_PAGE_ADDR + 0x202), 0x53726448, 'setup header copied into the zero page');
  t.equal(mem.readU8(ZERO_PAGE_ADDR + HDR.typeOfLoader), 0xff);
  t.equal(mem.readU8(ZERO_PAGE_ADDR + HDR.loadflags), 0x81, 'LOADED_HIGH | CAN_USE_HEAP');
  t.equal(mem.readU16(ZERO_PAGE_ADDR + HDR.heapEndPtr), 0xfe00 - 0x200);
  t.equal(mem.readU16(ZERO_PAGE_ADDR + HDR.vidMode), 0xffff);
  t.equal(mem.readU32(ZERO_PAGE_ADDR + HDR.cmdLinePtr), CMDLINE_ADDR);
  t.equal(new TextDecoder().decode(mem.read(CMDLINE_ADDR, 20)), 'console=ttyS0 quiet\0');
  t.equal(mem.readU64(ZERO_PAGE_ADDR + ZP.acpiRsdpAddr), 0xe0000n);
  const initrdAddr = mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskImage);
  t.equal(mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskSize), initrd.length);
  t.equal(initrdAddr, 64 * MiB - 4 * 4096, 'highest page-aligned address that fits');
  t.same(mem.read(initrdAddr, initrd.length), initrd);
  t.same(readE820(mem), [
    { addr: 0n, size: 0x9fc00n, type: E820_RAM },
    { addr: 0x9fc00n, size: 0x60400n, type: E820_RESERVED },
    { addr: 0x100000n, size: BigInt(63 * MiB), type: E820_RAM },
  ]);
});

t.test('acpi_rsdp_addr is left zero before protocol 2.14', async (t) => {
  const mem = guestMemory(64 * MiB);
  loadBzImage(mem, fakeBzImage({ version: 0x020c }), { cmdline: '', acpiRsdpAddr: 0xe0000 });
  t.equal(mem.readU64(ZERO_PAGE_ADDR + ZP.acpiRsdpAddr), 0n);
});

t.test('setup_sects 0 means 4', async (t) => {
  const image = fakeBzImage({ setupSects: 4 });
  image[0x1f1] = 0;
  t.equal(parseSetupHeader(image).setupBytes, 5 * 512);
});

t.test('bad images are refused with one clear line', async (t) => {
  const mem = guestMemory(64 * MiB);
  const random = new Uint8Array(8192).map((_, i) => (i * 131 + 17) & 0xff);
  t.throws(() => loadBzImage(mem, random, { cmdline: '' }), { name: 'BootError', message: 'not a bzImage: no "HdrS" signature at offset 0x202 (8192 bytes)' });
  const image = fakeBzImage();
  t.throws(() => loadBzImage(mem, image.subarray(0, image.length - 16), { cmdline: '' }), {
    message: `truncated bzImage: ${image.length - 16} bytes, but setup (2560) + kernel (65536) need ${image.length}`,
  });
  t.throws(() => loadBzImage(mem, fakeBzImage({ version: 0x0206 }), { cmdline: '' }), {
    message: 'bzImage boot protocol 2.06 is too old: 64-bit boot needs 2.12 or newer',
  });
  const noFlag = fakeBzImage();
  noFlag[0x1fe] = 0;
  t.throws(() => loadBzImage(mem, noFlag, { cmdline: '' }), { message: 'not a bzImage: boot flag at 0x1fe is 0xaa00, expected 0xaa55' });
  const no64 = fakeBzImage();
  no64[0x236] = 0x7e;
  t.throws(() => loadBzImage(mem, no64, { cmdline: '' }), /no 64-bit entry point \(xloadflags XLF_KERNEL_64 clear\)/);
});

t.test('memory too small for the kernel, initrd or command line', async (t) => {
  const mem = guestMemory(16 * MiB);
  t.throws(() => loadBzImage(mem, fakeBzImage({ initSize: 0x400000 }), { cmdline: '' }), {
    message: 'kernel too big for RAM: it needs memory up to 0x1400000 (init_size 4194304 at 0x1000000), RAM usable up to 0x1000000',
  });
  const mem64 = guestMemory(64 * MiB);
  // Footprint ends at 16 MiB + 4 MiB = 20 MiB; 44 MiB remain.
  const available = 44 * MiB;
  t.throws(() => loadBzImage(mem64, fakeBzImage(), { cmdline: '', initrd: new Uint8Array(available + 1) }), {
    message: `initrd does not fit: ${available + 1} bytes, ${available} available`,
  });
  t.doesNotThrow(() => loadBzImage(mem64, fakeBzImage(), { cmdline: '', initrd: new Uint8Array(available) }));
  t.throws(() => loadBzImage(mem64, fakeBzImage(), { cmdline: 'x'.repeat(2048) }), {
    message: 'kernel command line too long: 2048 bytes, the kernel takes at most 2047',
  });
});

const guest = builtGuest();
t.test('the Debian cloud kernel and its initramfs', { skip: guest ? false : NO_GUEST_MESSAGE }, async (t) => {
  if (!guest) return;
  const mem = guestMemory(512 * MiB);
  const r = loadBzImage(mem, guest.kernel, { cmdline: 'console=ttyS0', initrd: guest.initrd, acpiRsdpAddr: 0xe0000 });
  t.ok(r.header.version >= 0x020f, `protocol ${r.header.version.toString(16)}`);
  t.ok(r.header.relocatable);
  t.equal(r.kernel.address, 0x100000);
  t.same(mem.read(0x100000, 4096), guest.kernel.subarray(r.header.setupBytes, r.header.setupBytes + 4096));
  t.equal(mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskSize), guest.initrd.length);
  const initrdAddr = mem.readU32(ZERO_PAGE_ADDR + HDR.ramdiskImage);
  t.equal(initrdAddr % 4096, 0);
  t.ok(initrdAddr + guest.initrd.length <= 512 * MiB);
  t.ok(initrdAddr >= r.kernelFootprint.address + r.kernelFootprint.size, 'initrd above the decompressed kernel');
  t.same(mem.read(initrdAddr, 64), guest.initrd.subarray(0, 64));
  t.equal(readE820(mem).length, 3);
  t.throws(() => loadBzImage(guestMemory(64 * MiB), guest.kernel, { cmdline: '' }), /kernel too big for RAM/);
  const old = Uint8Array.from(guest.kernel);
  old[0x206] = 0x05;
  t.throws(() => loadBzImage(mem, old, { cmdline: '' }), { message: 'bzImage boot protocol 2.05 is too old: 64-bit boot needs 2.12 or newer' });
  t.throws(() => loadBzImage(mem, guest.kernel.subarray(0, 1 << 20), { cmdline: '' }), /^truncated bzImage: 1048576 bytes/);
  t.throws(() => loadBzImage(mem, guest.kernel, { cmdline: '', initrd: new Uint8Array(512 * MiB) }), /^initrd does not fit: 536870912 bytes, \d+ available$/);
});
