/**
 * The xAPIC MMIO page is per CPU: every CPU sees its own local APIC at the
 * same address. The bus has one mapping, so this router forwards each access
 * to the APIC of the vCPU that is running; the CPU loop sets `currentCpu`
 * before it runs a vCPU.
 *
 * Relocation through IA32_APIC_BASE moves the mapping for everyone (guests
 * keep all APICs at one base; Linux never moves it). An APIC disabled in
 * hardware does not decode its page: reads are all-ones, writes dropped.
 */
import { IoBus, MmioDevice } from '../devices/bus';
import { Logger, defaultLogger } from '../log';
import { fillMmio, mmioValue } from '../devices/legacy/byte-registers';
import { Lapic, LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE } from './lapic';

export class LapicMmioRouter implements MmioDevice {
  /** Index of the vCPU whose accesses arrive now. */
  currentCpu = 0;
  private base = LAPIC_DEFAULT_BASE;
  private bus: IoBus | undefined;

  constructor(private readonly lapics: readonly Lapic[], private readonly log: Logger = defaultLogger) {
    for (const l of lapics) l.onBaseChange = (b) => this.relocate(b);
  }

  register(bus: IoBus): void {
    this.bus = bus;
    bus.registerMmio(this.base, LAPIC_MMIO_SIZE, this, 'lapic');
  }

  private current(): Lapic | undefined {
    const l = this.lapics[this.currentCpu];
    return l && l.hardwareEnabled() ? l : undefined;
  }

  mmioRead(offset: number, data: Uint8Array): void {
    const lapic = this.current();
    if (!lapic) {
      data.fill(0xff);
      return;
    }
    // Registers are 32 bits on 16-byte boundaries; bytes 4-15 of each slot read as zero.
    const within = offset & 0xf;
    const value = within < 4 ? lapic.readRegister(offset & 0xff0) : 0;
    fillMmio(data, Math.floor(value / 2 ** (8 * (within & 3))));
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    const lapic = this.current();
    if (!lapic) return;
    // Only aligned 32-bit (or 64-bit) stores are defined; others are dropped.
    if ((offset & 0xf) !== 0 || data.length < 4) return;
    lapic.writeRegister(offset & 0xff0, mmioValue(data));
  }

  private relocate(newBase: number): void {
    if (newBase === this.base || !this.bus) return;
    this.bus.unregisterMmio(this);
    try {
      this.bus.registerMmio(newBase, LAPIC_MMIO_SIZE, this, 'lapic');
      this.base = newBase;
    } catch (e) {
      this.log.warn(`lapic: cannot move the APIC page to 0x${newBase.toString(16)}: ${(e as Error).message}; keeping 0x${this.base.toString(16)}`);
      this.bus.registerMmio(this.base, LAPIC_MMIO_SIZE, this, 'lapic');
    }
  }
}
