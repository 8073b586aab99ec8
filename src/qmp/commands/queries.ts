/** The query-* commands: read-only views of the VM and of the monitor. */
import { CommandContext, CommandHandler } from '../command-context';
import { DEVICE_TYPES } from '../device-catalog';
import { QmpError, genericError } from '../errors';
import { JsonObject, JsonValue } from '../json-value';
import { MACHINES, machineInfo } from '../machine-catalog';
import { QEMU_COMPAT_VERSION, TSVISOR_PACKAGE } from '../version';
import { BlockDeviceInfo, VcpuInfo } from '../vm-control';

export function versionInfo(): JsonObject {
  const { major, minor, micro } = QEMU_COMPAT_VERSION;
  return { qemu: { micro, minor, major }, package: TSVISOR_PACKAGE };
}

export function statusInfo(ctx: CommandContext): JsonObject {
  const status = ctx.vm.runState();
  // QAPI declaration order: QEMU's output order depends on it (see qdict-order.ts).
  return { running: status === 'running', singlestep: false, status };
}

function cpuProps(cpu: VcpuInfo): JsonObject {
  return { 'core-id': cpu.props.coreId, 'thread-id': cpu.props.threadId, 'socket-id': cpu.props.socketId };
}

function cpuFast(cpu: VcpuInfo): JsonObject {
  return { 'thread-id': cpu.threadId, props: cpuProps(cpu), 'qom-path': cpu.qomPath, 'cpu-index': cpu.index, target: 'x86_64' };
}

export function blockInfo(b: BlockDeviceInfo): JsonObject {
  const info: JsonObject = { 'io-status': 'ok', device: b.device, locked: b.locked, removable: b.removable };
  const ins = b.inserted;
  if (ins) {
    info.inserted = {
      iops_rd: 0, detect_zeroes: 'off',
      image: { 'virtual-size': ins.virtualSize, filename: ins.file, format: ins.drv, 'dirty-flag': false },
      iops_wr: 0, ro: ins.readOnly, 'node-name': ins.nodeName, backing_file_depth: 0, drv: ins.drv,
      iops: 0, bps_wr: 0, write_threshold: 0, encrypted: false, bps: 0, bps_rd: 0,
      cache: { 'no-flush': ins.cache.noFlush, direct: ins.cache.direct, writeback: ins.cache.writeback },
      file: ins.file,
    };
  }
  if (b.qdev) info.qdev = b.qdev;
  if (b.removable) info.tray_open = b.trayOpen ?? false;
  info.type = 'unknown';
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
    return [...cpus].reverse().map((cpu) => ({ props: cpuProps(cpu), 'vcpus-count': 1, 'qom-path': cpu.qomPath, type: ctx.vm.cpuType }));
  },
  'query-chardev': (ctx) => [
    { 'frontend-open': true, filename: ctx.monitor.chardevFilename, label: 'compat_monitor0' },
    ...ctx.vm.chardevs().map((c) => ({ 'frontend-open': c.frontendOpen, filename: c.filename, label: c.label })),
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
