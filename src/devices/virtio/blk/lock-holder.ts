/**
 * Names the process behind a conflicting image lock, for the error message.
 * F_OFD_GETLK reports no pid for OFD locks (l_pid is -1), and neither does
 * /proc/locks, but each holder's /proc/PID/fdinfo/FD lists the locks of that
 * open file description as "lock: ... OFDLCK ... MAJ:MIN:INODE START END".
 * Only called on the error path: it reads every process's fdinfo.
 */
import * as fs from 'node:fs';

export interface LockHolder {
  pid: number;
  command: string;
}

/** "fe:00:2146305" as /proc/locks writes a dev_t and inode (MAJOR, MINOR in hex). */
function lockFileId(st: fs.BigIntStats): string {
  const dev = st.dev;
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  const hex = (n: bigint): string => n.toString(16).padStart(2, '0');
  return `${hex(major)}:${hex(minor)}:${st.ino}`;
}

function holdsByte(fdinfo: string, fileId: string, byte: number): boolean {
  for (const line of fdinfo.split('\n')) {
    if (!line.startsWith('lock:')) continue;
    const f = line.trim().split(/\s+/);
    const at = f.indexOf(fileId);
    if (at < 0) continue;
    const start = Number(f[at + 1]);
    const end = f[at + 2] === 'EOF' ? Infinity : Number(f[at + 2]);
    if (byte >= start && byte <= end) return true;
  }
  return false;
}

function readOrEmpty(p: string): string {
  try { return fs.readFileSync(p, 'utf8'); } catch { return ''; }
}

/** A process other than (ourPid, ourFd) whose open file description locks `byte` of the file open on `fd`. */
export function findLockHolder(fd: number, byte: number): LockHolder | undefined {
  let fileId: string;
  try { fileId = lockFileId(fs.fstatSync(fd, { bigint: true })); } catch { return undefined; }
  let pids: string[];
  try { pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)); } catch { return undefined; }
  for (const pid of pids) {
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${pid}/fdinfo`); } catch { continue; }
    for (const n of fds) {
      if (Number(pid) === process.pid && Number(n) === fd) continue;
      if (holdsByte(readOrEmpty(`/proc/${pid}/fdinfo/${n}`), fileId, byte)) {
        return { pid: Number(pid), command: readOrEmpty(`/proc/${pid}/comm`).trim() };
      }
    }
  }
  return undefined;
}
