/**
 * The virtio part of a VmConfig: machine type and the devices the user asked
 * for, as plain data (it crosses into the machine worker by structured clone),
 * and the parsers for their command-line options.
 */
import { ConfigError } from './vm-config';

/** pc: PCI host bridge + virtio-pci (MSI-X). microvm: no PCI, virtio-mmio described in the DSDT. */
export type MachineType = 'pc' | 'microvm';

export interface DiskConfig {
  path: string;
  readOnly: boolean;
  serial?: string;
}

export type NetConfig =
  /** Create or attach to TAP interface `name`. */
  | { kind: 'tap'; name: string; mac?: string }
  /** A TAP fd already opened and inherited (what libvirt passes). */
  | { kind: 'fd'; fd: number; mac?: string };

/** serial: the 16550 only. virtio: a virtio-console (hvc0) as well. */
export type ConsoleKind = 'serial' | 'virtio';

export interface VirtioConfig {
  machine: MachineType;
  disks: DiskConfig[];
  nets: NetConfig[];
  rng: boolean;
  console: ConsoleKind;
}

export const DEFAULT_VIRTIO_CONFIG: VirtioConfig = { machine: 'pc', disks: [], nets: [], rng: false, console: 'serial' };

/** The virtio fields of a config that may predate them (daemon, tests): missing ones get the defaults. */
export function virtioConfigOf(config: Partial<VirtioConfig>): VirtioConfig {
  return {
    machine: config.machine ?? DEFAULT_VIRTIO_CONFIG.machine,
    disks: config.disks ?? [],
    nets: config.nets ?? [],
    rng: config.rng ?? false,
    console: config.console ?? 'serial',
  };
}

/** Splits "first,key=value,key=value" (QEMU's style); a comma inside a value is written ",,". */
function splitOptions(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',' && text[i + 1] === ',') { cur += ','; i++; continue; }
    if (text[i] === ',') { parts.push(cur); cur = ''; continue; }
    cur += text[i];
  }
  parts.push(cur);
  return parts;
}

function keyValues(option: string, fields: string[], allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const kv of fields) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new ConfigError(`bad ${option} field '${kv}': expected key=value`);
    const key = kv.slice(0, eq);
    if (!allowed.includes(key)) throw new ConfigError(`unknown ${option} field '${key}': expected ${allowed.join(', ')}`);
    if (out.has(key)) throw new ConfigError(`${option} field '${key}' given twice`);
    out.set(key, kv.slice(eq + 1));
  }
  return out;
}

function onOff(option: string, key: string, value: string): boolean {
  if (['on', 'yes', 'true'].includes(value)) return true;
  if (['off', 'no', 'false'].includes(value)) return false;
  throw new ConfigError(`bad ${option} ${key}='${value}': expected on or off`);
}

export function parseMachineType(text: string): MachineType {
  if (text === 'pc' || text === 'microvm') return text;
  throw new ConfigError(`bad --machine '${text}': expected pc or microvm`);
}

/** --disk PATH[,readonly=on][,serial=ID] */
export function parseDisk(text: string): DiskConfig {
  const [path, ...rest] = splitOptions(text);
  if (!path) throw new ConfigError(`bad --disk '${text}': expected PATH[,readonly=on][,serial=ID]`);
  const kv = keyValues('--disk', rest, ['readonly', 'serial']);
  const serial = kv.get('serial');
  // virtio-blk's ID field holds 20 bytes; QEMU refuses longer serials too.
  if (serial !== undefined && (serial.length === 0 || Buffer.byteLength(serial) > 20)) {
    throw new ConfigError(`bad --disk serial '${serial}': 1 to 20 bytes`);
  }
  const disk: DiskConfig = { path, readOnly: kv.has('readonly') ? onOff('--disk', 'readonly', kv.get('readonly') ?? '') : false };
  if (serial !== undefined) disk.serial = serial;
  return disk;
}

const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** --net tap=NAME[,mac=MAC] | fd=N[,mac=MAC] */
export function parseNet(text: string): NetConfig {
  const kv = keyValues('--net', splitOptions(text), ['tap', 'fd', 'mac']);
  const mac = kv.get('mac');
  if (mac !== undefined) {
    if (!MAC_PATTERN.test(mac)) throw new ConfigError(`bad --net mac '${mac}': expected six hex bytes like 52:54:00:12:34:56`);
    if (parseInt(mac.slice(0, 2), 16) & 1) throw new ConfigError(`bad --net mac '${mac}': a multicast address (low bit of the first byte set)`);
  }
  const tap = kv.get('tap');
  const fd = kv.get('fd');
  if ((tap === undefined) === (fd === undefined)) throw new ConfigError(`bad --net '${text}': expected tap=NAME or fd=N (one of them)`);
  if (tap !== undefined) {
    // IFNAMSIZ is 16 with the NUL; an empty name would let the kernel pick one we never report.
    if (tap.length === 0 || tap.length > 15 || /[\s/]/.test(tap)) throw new ConfigError(`bad --net tap name '${tap}': 1-15 characters, no spaces or '/'`);
    return mac === undefined ? { kind: 'tap', name: tap } : { kind: 'tap', name: tap, mac };
  }
  if (!/^\d+$/.test(fd ?? '') || Number(fd) < 3) throw new ConfigError(`bad --net fd '${fd}': expected an inherited file descriptor number (3 or more)`);
  return mac === undefined ? { kind: 'fd', fd: Number(fd) } : { kind: 'fd', fd: Number(fd), mac };
}

export function parseConsole(text: string): ConsoleKind {
  if (text === 'virtio' || text === 'serial') return text;
  throw new ConfigError(`bad --console '${text}': expected virtio or serial`);
}
