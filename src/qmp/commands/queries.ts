/**
 * The query-* commands: read-only views of the VM and of the monitor.
 * Objects are built with members in QAPI declaration order: QEMU's output
 * order depends on it (see qdict-order.ts).
 */
import { CommandContext, CommandHandler } from '../command-context';
import { DEVICE_TYPES } from '../device-catalog';
import { QmpError, genericError } from '../errors';
import { JsonObject, JsonValue } from '../json-value';
import { MACHINES, machineInfo } from '../machine-catalog';
import { QEMU_COMPAT_VERSION, TSVISOR_PACKAGE } from '../version';
import { BlockDeviceInfo, VcpuInfo } from '../vm-control';

export function versionInfo(): JsonObject {
  const { major, minor, micro } = QEMU_COMPAT_VERSION;
  return { qemu: { major, minor, micro }, package: TSVISOR_PACKAGE };
}

export function statusInfo(ctx: CommandContext): JsonObject {
  const status = ctx.vm.runState();
  // QAPI declaration order: QEMU's output order depends on it (see qdict-order.ts).
  return { running: status === 'running', singlestep: false, status };
}

function cpuProps(cpu: VcpuInfo): JsonObject {
  return { 'socket-id': cpu.props.socketId, 'core-id': cpu.props.coreId, 'thread-id': cpu.props.threadId };
}

function cpuFast(cpu: VcpuInfo): JsonObject {
  return { 'cpu-index': cpu.index, 'qom-path': cpu.qomPath, 'thread-id': cpu.threadId, props: cpuProps(cpu), target: 'x86_64' };
}

export function blockInfo(b: BlockDeviceInfo): JsonObject {
  const info: JsonObject = { device: b.device };
  if (b.qdev) info.qdev = b.qdev;
  info.type = 'unknown';
  info.removable = b.removable;
  info.locked = b.locked;
  const ins = b.inserted;
  if (ins) {
    info.inserted = {
      file: ins.file, 'node-name': ins.nodeName, ro: ins.readOnly, drv: ins.drv, backing_file_depth: 0,
      encrypted: false, detect_zeroes: 'off', bps: 0, bps_rd: 0, bps_wr: 0, iops: 0, iops_rd: 0, iops_wr: 0,
      image: { filename: ins.file, format: ins.drv, 'dirty-flag': false, 'virtual-size': ins.virtualSize },
      write_threshold: 0,
      cache: { writeback: ins.cache.writeback, direct: ins.cache.direct, 'no-flush': ins.cache.noFlush },
    };
  }
  if (b.removable) info.tray_open = b.trayOpen ?? false;
  info['io-status'] = 'ok';
  return info;
}

/** QEMU's have_balloon(): KVM without a synchronous MMU first, then "no device". */
function balloonUnavailable(): QmpError {
  // tsvisor has no balloon device yet. (KVMMissingCap, QEMU's answer for
  // KVM without KVM_CAP_SYNC_MMU, cannot happen: every supported kernel has it.)
  return new QmpError('DeviceNotActive', 'No balloon device has been activated');
}

export const queryCommands: Record<string, CommandHandler> = {
  'query-version': () => versionInfo(),
  'query-commands': (ctx) => ctx.monitor.commandNames.map((name): JsonValue => ({ name })),
  'query-qmp-schema': (ctx) => [...ctx.monitor.schemaInfo],
  'query-status': (ctx) => statusInfo(ctx),
  'query-name': (ctx): JsonObject => (ctx.vm.name !== undefined ? { name: ctx.vm.name } : {}),
  'query-uuid': (ctx) => ({ UUID: ctx.vm.uuid }),
  'query-kvm': (ctx) => ({ enabled: ctx.vm.accel === 'kvm', present: ctx.vm.kvmPresent }),
  'query-target': () => ({ arch: 'x86_64' }),
  'query-machines': () => MACHINES.map(machineInfo),
  'query-current-machine': () => ({ 'wakeup-suspend-support': false }),
  'query-cpus-fast': async (ctx) => (await ctx.vm.cpus()).map(cpuFast),
  'query-hotpluggable-cpus': async (ctx) => {
    if (!ctx.vm.hotpluggableCpus) throw genericError("The feature 'query-hotpluggable-cpus' is not enabled");
    const cpus = await ctx.vm.cpus();
    // QEMU lists the slots from the highest index down.
    return [...cpus].reverse().map((cpu) => ({ type: ctx.vm.cpuType, 'vcpus-count': 1, props: cpuProps(cpu), 'qom-path': cpu.qomPath }));
  },
  'query-chardev': (ctx) => [
    { label: 'compat_monitor0', filename: ctx.monitor.chardevFilename, 'frontend-open': true },
    ...ctx.vm.chardevs().map((c) => ({ label: c.label, filename: c.filename, 'frontend-open': c.frontendOpen })),
  ],
  'query-block': (ctx) => ctx.vm.blockDevices().map(blockInfo),
  'query-balloon': () => { throw balloonUnavailable(); },
  'device-list-properties': (_ctx, args) => {
    const typename = String(args.typename);
    const props = Object.prototype.hasOwnProperty.call(DEVICE_TYPES, typename) ? DEVICE_TYPES[typename] : undefined;
    if (!props) throw new QmpError('DeviceNotFound', `Device '${typename}' not found`);
    return props.map((p): JsonObject => (p.description === undefined ? { name: p.name, type: p.type } : { name: p.name, type: p.type, description: p.description }));
  },
};
