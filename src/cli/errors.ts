/** An error meant for the user: printed as one line, exit status 1 (or `status`). */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly status = 1) {
    super(message);
  }
}
