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
  const { config } = parseRunArgs(argv);
  const kernel = readImage(config.kernelPath, 'kernel');
  const initrd = config.initrdPath ? readImage(config.initrdPath, 'initrd') : undefined;
  // TSVISOR_KVM_DEVICE lets tests stand in for a host without (or with a different) /dev/kvm.
  const plan = planAccelerators(config.accel, probeKvm(process.env.TSVISOR_KVM_DEVICE ?? '/dev/kvm'));
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
  try {
    await host.start({ kernel, initrd }, false, plan.candidates);
  } catch (e) {
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
  consoleInput?.start();
  const end = await ended;
  consoleInput?.stop();
  const { status, message } = exitStatusFor(end);
  if (message) process.stderr.write(`tsvisor: ${message}\n`);
  return status;
}
