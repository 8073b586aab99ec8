/**
 * Messages between the main thread (CLI, QMP, stdin) and the machine worker
 * thread (vCPUs and every device). Plain data, structured-cloned.
 */
import { VmConfig, AccelName } from './vm-config';

export type RunState = 'prelaunch' | 'running' | 'paused' | 'shutdown' | 'internal-error';

/** Why the machine ended; decides the process exit status. */
export type MachineEnd =
  | { kind: 'poweroff' }
  | { kind: 'debug-exit'; status: number }
  /** The guest rebooted (or triple-faulted) and --no-reboot was given. */
  | { kind: 'no-reboot'; cause: string }
  | { kind: 'quit' }
  | { kind: 'error'; message: string };

export interface CpuSummary {
  index: number;
  rip: string;
  /** Linux TID of the thread running this vCPU (the machine worker's, or under KVM SMP the vCPU's own). */
  threadId: number;
}

export type HostToWorker =
  | { type: 'start'; config: VmConfig; kernel: Uint8Array; initrd?: Uint8Array; paused: boolean; serialFd: number | null }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  | { type: 'reset'; id: number }
  | { type: 'powerdown'; id: number }
  | { type: 'quit'; id: number }
  | { type: 'serial-input'; bytes: Uint8Array }
  | { type: 'info-registers'; id: number; cpu: number }
  | { type: 'info-cpus'; id: number };

export type WorkerToHost =
  | { type: 'started'; accel: AccelName; accelNote?: string; vcpuFds: number[]; /** the machine thread's Linux TID */ threadId: number }
  | { type: 'reply'; id: number; ok: true; value?: unknown }
  | { type: 'reply'; id: number; ok: false; message: string }
  /** Guest-initiated state changes, for QMP events (RESET, SHUTDOWN, ...). */
  | { type: 'event'; event: 'RESET' | 'SHUTDOWN' | 'STOP' | 'RESUME' | 'POWERDOWN'; data?: Record<string, unknown> }
  | { type: 'end'; end: MachineEnd }
  | { type: 'fatal'; message: string };
