/**
 * `--qmp` in QEMU's chardev syntax: `unix:PATH,server=on,wait=off`.
 * Only a listening Unix socket is supported in this version; other backends
 * (tcp:, stdio, client mode) get an error that says so rather than being
 * half-accepted. QEMU's spellings are accepted: on/off/yes/no/true/false,
 * the older bare `server` and `nowait`, and ",," for a comma in the path.
 */
export interface QmpSocketOption {
  path: string;
  server: true;
  /** Wait for the first client before starting the guest (QEMU's default when server=on). */
  wait: boolean;
}

export class QmpOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QmpOptionError';
  }
}

const TRUE_WORDS = new Set(['on', 'yes', 'true', 'y']);
const FALSE_WORDS = new Set(['off', 'no', 'false', 'n']);

function parseBool(text: string, key: string, whole: string): boolean {
  if (TRUE_WORDS.has(text)) return true;
  if (FALSE_WORDS.has(text)) return false;
  throw new QmpOptionError(`bad --qmp '${whole}': ${key}='${text}' must be on or off`);
}

/** Split on single commas; ",," is a literal comma (QEMU's option escaping). */
function splitOptions(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === ',' && text[i + 1] === ',') { current += ','; i++; }
    else if (text[i] === ',') { parts.push(current); current = ''; }
    else current += text[i];
  }
  parts.push(current);
  return parts;
}

export function parseQmpOption(text: string): QmpSocketOption {
  const [backend, ...options] = splitOptions(text);
  const colon = backend.indexOf(':');
  const kind = colon < 0 ? backend : backend.slice(0, colon);
  if (kind !== 'unix') {
    throw new QmpOptionError(`unsupported --qmp '${text}': only unix:PATH,server=on[,wait=off] is supported (not '${kind}')`);
  }
  const path = backend.slice(colon + 1);
  if (!path) throw new QmpOptionError(`bad --qmp '${text}': the socket path is empty`);
  let server = false;
  let wait = true;
  for (const opt of options) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? undefined : opt.slice(eq + 1);
    if (key === 'server') server = value === undefined ? true : parseBool(value, key, text);
    else if (key === 'wait') wait = value === undefined ? true : parseBool(value, key, text);
    else if (key === 'nowait' && value === undefined) wait = false;
    else throw new QmpOptionError(`bad --qmp '${text}': unknown option '${opt}' (expected server=on, wait=on|off)`);
  }
  if (!server) {
    throw new QmpOptionError(`unsupported --qmp '${text}': connecting out as a client is not supported; add server=on`);
  }
  return { path, server: true, wait };
}

/** `--qmp-fd N`: a listening socket inherited from the parent. */
export function parseQmpFd(text: string): number {
  if (!/^\d+$/.test(text)) throw new QmpOptionError(`bad --qmp-fd '${text}': expected a file descriptor number`);
  const fd = Number(text);
  if (fd < 3 || fd > 65535) throw new QmpOptionError(`bad --qmp-fd '${text}': descriptor must be 3 or above (0-2 are stdio)`);
  return fd;
}
