/**
 * The machine types tsvisor runs, in query-machines' MachineInfo form.
 * Kept here rather than asked from the VM because the list is a property of
 * the program, not of the running guest.
 */
import { JsonObject } from './json-value';

export interface MachineEntry {
  name: string;
  alias?: string;
  isDefault?: boolean;
  cpuMax: number;
  hotpluggableCpus: boolean;
  defaultCpuType?: string;
  defaultRamId: string;
}

export const MACHINES: MachineEntry[] = [
  { name: 'microvm', cpuMax: 288, hotpluggableCpus: false, defaultCpuType: 'qemu64-x86_64-cpu', defaultRamId: 'microvm.ram' },
  { name: 'pc-i440fx-7.2', alias: 'pc', isDefault: true, cpuMax: 255, hotpluggableCpus: true, defaultCpuType: 'qemu64-x86_64-cpu', defaultRamId: 'pc.ram' },
  { name: 'none', cpuMax: 1, hotpluggableCpus: false, defaultRamId: 'ram' },
];

export function machineInfo(m: MachineEntry): JsonObject {
  const info: JsonObject = { name: m.name };
  if (m.alias) info.alias = m.alias;
  if (m.isDefault) info['is-default'] = true;
  info['cpu-max'] = m.cpuMax;
  info['hotpluggable-cpus'] = m.hotpluggableCpus;
  info['numa-mem-supported'] = false;
  info.deprecated = false;
  if (m.defaultCpuType) info['default-cpu-type'] = m.defaultCpuType;
  info['default-ram-id'] = m.defaultRamId;
  return info;
}
