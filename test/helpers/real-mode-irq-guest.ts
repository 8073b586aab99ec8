/**
 * A real-mode guest on the software CPU with one interrupt source: the IVT
 * entry for vector 0x20 points at a handler that writes 'I' to the debug
 * port (0xE9), so a test sees in the port's text when an interrupt was taken
 * relative to what the program itself writes there.
 */
import { createTcgAccelerator } from '../../src/tcg-fallback/accelerator';
import type { CpuInterruptSource } from '../../src/tcg-fallback/cpu-interrupt-port';
import { IoBus, PioDevice } from '../../src/devices/bus';
import { SimpleRunControl } from '../../src/accel';
import { memoryLogger } from '../../src/log';
import { assemble } from '../tcg-cpu-support';

export class DebugPort implements PioDevice {
  text = '';
  pioRead(): number { return 0; }
  pioWrite(_o: number, _s: number, v: number): void { this.text += String.fromCharCode(v & 0xff); }
}

/** `program` runs at 0x7C00 after the IVT and stack are set up; `run` runs one slice and returns how it ended. */
export function realModeIrqGuest(program: string, source: CpuInterruptSource): { run: () => string; port: DebugPort } {
  const bus = new IoBus(memoryLogger());
  const port = new DebugPort();
  bus.registerPio(0xe9, 1, port, 'debug');
  const acc = createTcgAccelerator({ ram: [{ guestAddress: 0, size: 1 << 20 }], cpus: 1, bus, control: new SimpleRunControl() },
    { interruptSources: [source] });
  const code = assemble(`.intel_syntax noprefix
.code16
  xor ax, ax
  mov ds, ax
  mov ss, ax
  mov sp, 0x7000
  mov word ptr [0x80], offset handler
  mov word ptr [0x82], 0
${program}
handler:
  push ax
  mov al, 'I'
  out 0xe9, al
  pop ax
  iret
`, 16, 0x7c00);
  acc.memory.write(0x7c00, code);
  const vcpu = acc.vcpus[0];
  const sregs = vcpu.getSpecialRegisters();
  vcpu.setSpecialRegisters({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
  vcpu.setRegisters({ ...vcpu.getRegisters(), rip: 0x7c00n });
  return { run: () => vcpu.run().kind, port };
}
