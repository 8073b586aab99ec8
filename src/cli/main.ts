/** The `tsvisor` command: subcommand dispatch and error reporting. */
import { CliError } from './errors';
import { runCommand } from './run';
import { runQmpClient } from './qmp-client';

const USAGE = `usage: tsvisor <command> [options]
commands:
  run     boot a guest (tsvisor run --help)
  qmp     interactive QMP client: tsvisor qmp SOCKET
  version print the version`;

function version(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../../../package.json') as { version: string }).version;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'qmp':
      return runQmpClient(rest);
    case 'version':
    case '--version':
      process.stdout.write(`tsvisor ${version()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return command === undefined ? 1 : 0;
    default:
      throw new CliError(`unknown command '${command}'\n${USAGE}`);
  }
}

export function runMain(argv: string[]): void {
  main(argv).then(
    (status) => process.exit(status),
    (e: unknown) => {
      if (e instanceof CliError) {
        process.stderr.write(`tsvisor: ${e.message}\n`);
        process.exit(e.status);
      }
      process.stderr.write(`tsvisor: internal error: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(70);
    },
  );
}
