/**
 * `tsvisor run`: boot a guest with its console on this terminal. The exit
 * status is 0 when the guest powers off (or reboots under --no-reboot), the
 * debug-exit status when a test guest uses that port, 1 with one line on
 * stderr for every error.
 */
import { CliError } from './errors';
import { RUN_USAGE, parseRunArgs } from './run-args';
import { readImage } from './read-image';
import { ConsoleInput } from './console';
import { planAccelerators, probeKvm } from '../machine/accel-select';
import { VmHost } from '../machine/vm-host';
import { MachineEnd } from '../machine/vm-protocol';
import { QmpVm } from '../machine/qmp-vm';
import { QmpServer, startQmpServer } from '../qmp/server';
import { QmpOptionError, parseQmpOption } from '../qmp/options';
import { createLogger } from '../log';

export function exitStatusFor(end: MachineEnd): { status: number; message?: string } {
  switch (end.kind) {
    case 'poweroff':
    case 'quit':
      return { status: 0 };
    case 'debug-exit':
      return { status: end.status };
    case 'no-reboot':
      return { status: 0, message: end.cause === 'guest-reset' ? undefined : `guest reset (${end.cause}); exiting because of --no-reboot` };
    case 'error':
      return { status: 1, message: end.message };
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(RUN_USAGE + '\n');
    return 0;
  }
  const { config, qmp, qmpFd, paused } = parseRunArgs(argv);
  let qmpSockets;
  try {
    qmpSockets = qmp.map((text) => parseQmpOption(text));
  } catch (e) {
    if (e instanceof QmpOptionError) throw new CliError(e.message);
    throw e;
  }
  const kernel = readImage(config.kernelPath, 'kernel');
  const initrd = config.initrdPath ? readImage(config.initrdPath, 'initrd') : undefined;
  // TSVISOR_KVM_DEVICE lets tests stand in for a host without (or with a different) /dev/kvm.
  const kvmProbe = probeKvm(process.env.TSVISOR_KVM_DEVICE ?? '/dev/kvm');
  const plan = planAccelerators(config.accel, kvmProbe);
  if ('error' in plan) throw new CliError(plan.error);
  if (plan.note) process.stderr.write(`tsvisor: ${plan.note}\n`);

  const host = new VmHost(config);
  const ended = new Promise<MachineEnd>((resolve) => host.once('end', resolve));
  let consoleInput: ConsoleInput | undefined;
  if (config.serial.kind === 'stdio') {
    consoleInput = new ConsoleInput(process.stdin, {
      toGuest: (bytes) => host.sendSerialInput(bytes),
      quit: () => void host.quit(),
    });
  }
  const onSignal = () => void host.quit();
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);

  // The monitor comes up before the guest, as QEMU's: with wait=on the guest waits for the first client.
  const vm = new QmpVm(host, config, kvmProbe.openable);
  let quitAcknowledged: () => void = () => undefined;
  const monitorQuit = new Promise<void>((resolve) => { quitAcknowledged = resolve; });
  const servers: QmpServer[] = [];
  const log = createLogger('qmp: ');
  const closeMonitors = () => Promise.all(servers.map((s) => s.close()));
  try {
    for (const socket of qmpSockets) {
      servers.push(await startQmpServer({ path: socket.path, wait: socket.wait, vm, log, onQuit: quitAcknowledged }));
    }
    if (qmpFd !== undefined) servers.push(await startQmpServer({ fd: qmpFd, vm, log, onQuit: quitAcknowledged }));
  } catch (e) {
    await closeMonitors();
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  try {
    await host.start({ kernel, initrd }, paused, plan.candidates);
  } catch (e) {
    await closeMonitors();
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  consoleInput?.start();
  const end = await ended;
  consoleInput?.stop();
  if (servers.length) {
    // A QMP quit's reply must reach the client before we exit; other ends just flush events.
    if (end.kind === 'quit') await Promise.race([monitorQuit, new Promise((r) => setTimeout(r, 1000))]);
    await closeMonitors();
  }
  const { status, message } = exitStatusFor(end);
  if (message) process.stderr.write(`tsvisor: ${message}\n`);
  return status;
}
