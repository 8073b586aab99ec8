/**
 * What the QMP monitor needs from the virtual machine. The monitor never
 * touches vCPUs, devices or memory directly: the machine implements this
 * (over its vCPU threads) and the tests use an in-memory fake
 * (test/helpers/fake-vm.ts), so the monitor is tested without a guest.
 *
 * State changes follow QEMU's run-state machine (softmmu/runstate.c,
 * qmp_stop/qmp_cont) because libvirt relies on it. The monitor applies the
 * rules and serialises these calls per VM (commands/run-control.ts), so an
 * implementation is only called when QEMU would act:
 *  - stop():      called only when 'running'; -> 'paused', emit STOP.
 *  - cont():      called only when not running and not needing a reset
 *                 ('shutdown'/'internal-error' are refused by the monitor);
 *                 emit RESUME, then -> 'running'.
 *  - reset():     emit RESET {guest:false, reason:'host-qmp-system-reset'};
 *                 a VM that is not running afterwards is in 'prelaunch'.
 *  - powerdown(): emit POWERDOWN and press the ACPI power button (if any).
 *  - quit():      stop the guest for good and emit SHUTDOWN
 *                 {guest:false, reason:'host-qmp-quit'}; must NOT exit the
 *                 process: the monitor flushes its reply first, then calls
 *                 the server's onQuit.
 * Guest-initiated changes are the implementation's own: e.g. a guest
 * power-off emits SHUTDOWN {guest:true, reason:'guest-shutdown'} (then STOP
 * and 'shutdown' under -no-shutdown), an internal error -> 'internal-error'
 * with STOP. Each call may return a promise (a vCPU thread has to
 * acknowledge); the monitor waits for it, so events emitted on the way reach
 * clients before the command's reply, as in QEMU. A call that throws or
 * rejects becomes a GenericError reply with its message.
 */
import { EventEmitter } from 'node:events';

/** QEMU's RunState values (qapi/run-state.json). */
export type RunState =
  | 'debug' | 'inmigrate' | 'internal-error' | 'io-error' | 'paused' | 'postmigrate'
  | 'prelaunch' | 'finish-migrate' | 'restore-vm' | 'running' | 'save-vm' | 'shutdown'
  | 'suspended' | 'watchdog' | 'guest-panicked' | 'colo';

/** QEMU's ShutdownCause values (qapi/run-state.json), the `reason` of SHUTDOWN and RESET. */
export type ShutdownCause =
  | 'none' | 'host-error' | 'host-qmp-quit' | 'host-qmp-system-reset' | 'host-signal'
  | 'host-ui' | 'guest-shutdown' | 'guest-reset' | 'guest-panic' | 'subsystem-reset'
  | 'snapshot-load';

/** The VM events the monitor forwards to every negotiated client. */
export type VmEvent =
  | { event: 'STOP' }
  | { event: 'RESUME' }
  | { event: 'POWERDOWN' }
  | { event: 'RESET'; data: { guest: boolean; reason: ShutdownCause } }
  | { event: 'SHUTDOWN'; data: { guest: boolean; reason: ShutdownCause } };

export type Accel = 'kvm' | 'tcg';

/** One vCPU as query-cpus-fast reports it. */
export interface VcpuInfo {
  /** 0-based index, QEMU's cpu-index. */
  index: number;
  /** QOM path, e.g. "/machine/unattached/device[0]". */
  qomPath: string;
  /** Host thread id (Linux TID) running this vCPU; the process id when none of its own. */
  threadId: number;
  /** Topology of the CPU (QEMU's CpuInstanceProperties for x86). */
  props: { socketId: number; coreId: number; threadId: number };
}

/** A block device as query-block reports it (QEMU's BlockInfo, the fields tsvisor knows). */
export interface BlockDeviceInfo {
  /** Device name, e.g. "virtio0". */
  device: string;
  /** QOM path of the device model that uses it. */
  qdev?: string;
  removable: boolean;
  locked: boolean;
  trayOpen?: boolean;
  /** Absent when there is no medium. */
  inserted?: {
    file: string;
    nodeName: string;
    /** Image format driver: "raw", "qcow2". */
    drv: string;
    readOnly: boolean;
    virtualSize: number;
    /** Cache mode shown by `info block`. */
    cache: { writeback: boolean; direct: boolean; noFlush: boolean };
  };
}

/** A character device as query-chardev reports it. */
export interface ChardevInfo {
  label: string;
  /** QEMU's filename syntax: "stdio", "file:PATH", "unix:PATH,server=on". */
  filename: string;
  frontendOpen: boolean;
}

export interface VmControl {
  /** Guest name (`--name`), undefined when none was given. */
  readonly name: string | undefined;
  /** SMBIOS UUID in canonical form; all zeros when none was given. */
  readonly uuid: string;
  readonly accel: Accel;
  /** Whether /dev/kvm exists and opens on this host (query-kvm `present`). */
  readonly kvmPresent: boolean;
  /** Machine type name, e.g. "microvm", "pc", "none". */
  readonly machineType: string;
  /** Whether the machine can hot-plug CPUs; false makes query-hotpluggable-cpus fail as QEMU's. */
  readonly hotpluggableCpus: boolean;
  /** QEMU type name of the vCPU model, e.g. "host-x86_64-cpu" or "qemu64-x86_64-cpu". */
  readonly cpuType: string;
  /** Events: 'event' with a VmEvent. */
  readonly events: EventEmitter;

  runState(): RunState;
  stop(): void | Promise<void>;
  cont(): void | Promise<void>;
  reset(): void | Promise<void>;
  powerdown(): void | Promise<void>;
  quit(): void | Promise<void>;
  cpus(): Promise<VcpuInfo[]>;
  /**
   * `info registers` text for one vCPU in QEMU's layout (x86_cpu_dump_state):
   * lines separated by "\n", without the leading "\nCPU#n\n" header, which
   * the monitor adds. Rejects when the CPU does not exist.
   */
  registers(cpuIndex: number): Promise<string>;
  blockDevices(): BlockDeviceInfo[];
  /** The guest's character devices (serial consoles); the monitor adds its own socket. */
  chardevs(): ChardevInfo[];
}

/** Subscribe to VM events; returns the unsubscribe function. */
export function onVmEvent(vm: VmControl, listener: (e: VmEvent) => void): () => void {
  vm.events.on('event', listener);
  return () => { vm.events.off('event', listener); };
}
