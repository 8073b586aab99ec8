/**
 * The PCI host bridge: bus 0, configuration mechanism #1 (address at 0xCF8,
 * data at 0xCFC-0xCFF) and optionally ECAM (memory-mapped configuration,
 * 4 KiB per function, for PCIe's MMCONFIG). Function 00.0 is the host bridge
 * itself, with i440FX's IDs so guests treat it as the familiar chipset.
 *
 * The host owns BAR placement: after every configuration write it compares
 * each BAR's decoded address with where it is mapped on the I/O bus and moves
 * it (unregister, register). A BAR the guest places over another device is
 * left unmapped and logged once, rather than throwing.
 */
import { AccessSize, IoBus, MmioDevice, PioDevice } from '../bus';
import { InterruptLine, SharedIrqWires } from '../irq';
import { Logger, defaultLogger } from '../../log';
import { PciConfigSpace } from './pci-config-space';
import { PciDevice, SimplePciFunction } from './pci-device';
import { pciIntxGsi } from './pci-irq-routing';

export const PCI_CONFIG_ADDRESS_PORT = 0xcf8;
export const PCI_CONFIG_DATA_PORT = 0xcfc;
export const PCI_SLOTS = 32;
const CONFIG_ENABLE = 0x80000000;

interface BarMapping {
  address: number | undefined;
  /** One object per BAR, so unregistering one BAR leaves the device's others alone. */
  readonly mmio: MmioDevice;
  readonly pio: PioDevice;
}

interface Slot {
  readonly device: PciDevice;
  readonly bars: BarMapping[];
}

export interface PciHostOptions {
  bus: IoBus;
  /**
   * The level-triggered interrupt line of a GSI, asked once per GSI; INTx of
   * slot N pin P drives pciIntxGsi(N, P), and functions sharing a wire are OR-ed.
   */
  intx: (gsi: number) => InterruptLine;
  log?: Logger;
  /** A byte written to port 0xCF9 (PIIX reset control): bit 2 requests a reset. */
  onResetControl?: (value: number) => void;
  /** A BAR was mapped, moved or unmapped (undefined): re-point ioeventfds at virtio doorbells here. */
  onBarMoved?: (slot: number, bar: number, address: number | undefined) => void;
}

export interface PciWindow {
  base: number;
  size: number;
}

/** Address windows the host bridge decodes, as the DSDT's _CRS describes them. */
export interface PciWindows {
  mmio32: PciWindow;
  mmio64?: PciWindow;
  io?: PciWindow;
}

export class PciHost {
  private readonly slots: (Slot | undefined)[] = new Array<Slot | undefined>(PCI_SLOTS).fill(undefined);
  private address = 0;
  private readonly log: Logger;
  private readonly warned = new Set<string>();
  private readonly intxWires: SharedIrqWires;
  readonly addressPort: PioDevice;
  readonly dataPort: PioDevice;

  constructor(private readonly opts: PciHostOptions) {
    this.log = opts.log ?? defaultLogger;
    this.intxWires = new SharedIrqWires(opts.intx);
    this.addressPort = {
      pioRead: (offset, size) => (offset === 0 && size === 4 ? this.address : 0xffffffff >>> (32 - 8 * size)),
      pioWrite: (offset, size, value) => {
        if (offset === 0 && size === 4) this.address = value >>> 0;
        else if (offset === 1 && size === 1) this.opts.onResetControl?.(value);
      },
    };
    this.dataPort = {
      pioRead: (offset, size) => this.mechanism1Read(offset, size),
      pioWrite: (offset, size, value) => this.mechanism1Write(offset, size, value),
    };
    const bridge = new PciConfigSpace({ vendorId: 0x8086, deviceId: 0x1237, classCode: 0x060000, revision: 2 });
    this.addDevice(new SimplePciFunction(bridge), 0);
  }

  /** Claims 0xCF8-0xCFB and 0xCFC-0xCFF on the bus. */
  registerPorts(): void {
    this.opts.bus.registerPio(PCI_CONFIG_ADDRESS_PORT, 4, this.addressPort, 'pci-config-address');
    this.opts.bus.registerPio(PCI_CONFIG_DATA_PORT, 4, this.dataPort, 'pci-config-data');
  }

  /** Maps ECAM for bus 0 (1 MiB: 32 slots x 8 functions x 4 KiB) at `base`. */
  registerEcam(base: number): void {
    this.opts.bus.registerMmio(base, 1 << 20, this.ecam, 'pci-ecam');
  }

  /** Plugs a function into a slot (the first free one by default) and wires its INTx. Returns the slot. */
  addDevice(device: PciDevice, slot?: number): number {
    const at = slot ?? this.slots.findIndex((s, i) => i > 0 && s === undefined);
    if (at < 0 || at >= PCI_SLOTS || this.slots[at]) throw new Error(`PCI slot ${slot ?? 'free'} is not available`);
    const bars = Array.from({ length: 6 }, (_, index): BarMapping => ({
      address: undefined,
      mmio: {
        mmioRead: (offset, data) => { const h = device.barMmio?.(index); if (h) h.mmioRead(offset, data); else data.fill(0xff); },
        mmioWrite: (offset, data) => device.barMmio?.(index)?.mmioWrite(offset, data),
      },
      pio: {
        pioRead: (offset, size) => device.barPio?.(index)?.pioRead(offset, size) ?? 0xffffffff >>> (32 - 8 * size),
        pioWrite: (offset, size, value) => device.barPio?.(index)?.pioWrite(offset, size, value),
      },
    }));
    this.slots[at] = { device, bars };
    const pin = device.config.interruptPin;
    if (pin >= 1 && pin <= 4) {
      const gsi = pciIntxGsi(at, pin);
      device.config.attachIntx(this.intxWires.connect(gsi), gsi);
    }
    return at;
  }

  deviceAt(slot: number): PciDevice | undefined {
    return this.slots[slot]?.device;
  }

  /** Configuration read by bus/device/function/register, as both mechanisms use it. */
  configRead(busNumber: number, slot: number, fn: number, offset: number, size: number): number {
    const s = this.slots[slot];
    if (busNumber !== 0 || fn !== 0 || !s || offset + size > 256) return 0xffffffff >>> (32 - 8 * size);
    return s.device.configRead(offset, size);
  }

  configWrite(busNumber: number, slot: number, fn: number, offset: number, size: number, value: number): void {
    const s = this.slots[slot];
    if (busNumber !== 0 || fn !== 0 || !s || offset + size > 256) return;
    s.device.configWrite(offset, size, value);
    this.syncBars(slot, s);
  }

  /**
   * Does what firmware does before the kernel runs: gives every BAR that has
   * no address one inside the given windows (naturally aligned), then turns
   * on decoding and bus mastering. With a direct kernel boot nobody else
   * would. The windows must match the host bridge's ACPI _CRS.
   */
  assignResources(windows: PciWindows): void {
    const cursors = {
      mmio32: windows.mmio32.base,
      mmio64: windows.mmio64?.base,
      io: windows.io?.base,
    };
    const take = (which: 'mmio32' | 'mmio64' | 'io', size: number): number | undefined => {
      const win = which === 'mmio32' ? windows.mmio32 : which === 'mmio64' ? windows.mmio64 : windows.io;
      const cur = cursors[which];
      if (!win || cur === undefined) return undefined;
      const at = Math.ceil(cur / size) * size;
      if (at + size > win.base + win.size) return undefined;
      cursors[which] = at + size;
      return at;
    };
    this.slots.forEach((s, slot) => {
      if (!s) return;
      let command = 0;
      for (let index = 0; index < 6; index++) {
        const def = s.device.config.barDefinition(index);
        if (!def) continue;
        const place = def.kind === 'io' ? take('io', def.size)
          : def.kind === 'mem64' ? take('mmio64', def.size) ?? take('mmio32', def.size)
            : take('mmio32', def.size);
        if (place === undefined) {
          this.log.warn(`pci ${slot}.0 BAR ${index}: no room for 0x${def.size.toString(16)} bytes in the ${def.kind} window`);
          continue;
        }
        const offset = 0x10 + 4 * index;
        s.device.configWrite(offset, 4, place % 0x100000000);
        if (def.kind === 'mem64') s.device.configWrite(offset + 4, 4, Math.floor(place / 0x100000000));
        command |= def.kind === 'io' ? 0x1 : 0x2;
      }
      if (slot !== 0) s.device.configWrite(0x04, 2, (s.device.configRead(0x04, 2) | command | 0x4) & 0xffff);
      this.syncBars(slot, s);
    });
  }

  /** Re-maps every BAR from configuration space (after restoring a snapshot). */
  syncAllBars(): void {
    this.slots.forEach((s, i) => { if (s) this.syncBars(i, s); });
  }

  private readonly ecam: MmioDevice = {
    mmioRead: (offset, data) => {
      const size = data.length;
      const v = size <= 4 ? this.configRead(0, offset >> 15, (offset >> 12) & 7, offset & 0xfff, size) : 0xffffffff;
      for (let i = 0; i < size; i++) data[i] = i < 4 ? (v >>> (8 * i)) & 0xff : 0xff;
    },
    mmioWrite: (offset, data) => {
      if (data.length > 4) return;
      let v = 0;
      for (let i = data.length - 1; i >= 0; i--) v = v * 256 + data[i];
      this.configWrite(0, offset >> 15, (offset >> 12) & 7, offset & 0xfff, data.length, v);
    },
  };

  private mechanism1Read(offset: number, size: AccessSize): number {
    const a = this.address;
    if (!(a & CONFIG_ENABLE) || offset + size > 4) return 0xffffffff >>> (32 - 8 * size);
    return this.configRead((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 7, (a & 0xfc) + offset, size);
  }

  private mechanism1Write(offset: number, size: AccessSize, value: number): void {
    const a = this.address;
    if (!(a & CONFIG_ENABLE) || offset + size > 4) return;
    this.configWrite((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 7, (a & 0xfc) + offset, size, value);
  }

  private syncBars(slot: number, s: Slot): void {
    const bus = this.opts.bus;
    s.bars.forEach((m, index) => {
      const def = s.device.config.barDefinition(index);
      const want = def ? s.device.config.barAddress(index) : undefined;
      if (want === m.address) return;
      if (m.address !== undefined) {
        if (def?.kind === 'io') bus.unregisterPio(m.pio);
        else bus.unregisterMmio(m.mmio);
        m.address = undefined;
      }
      if (want === undefined || !def) {
        this.opts.onBarMoved?.(slot, index, undefined);
        return;
      }
      const name = `pci-${slot.toString(16).padStart(2, '0')}.0-bar${index}`;
      try {
        if (def.kind === 'io') bus.registerPio(want, def.size, m.pio, name);
        else bus.registerMmio(want, def.size, m.mmio, name);
        m.address = want;
        this.opts.onBarMoved?.(slot, index, want);
      } catch (e) {
        this.warnOnce(name, `${name}: cannot map at 0x${want.toString(16)}: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  private warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(msg);
  }
}
