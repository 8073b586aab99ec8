/**
 * `npm start` (scripts/start), the README's main command: it finds the
 * default guest built by scripts/build-guest, boots it, and the user types
 * into the busybox shell on the console; `poweroff` brings them back with
 * status 0. The keystrokes reach the guest through the UART's receive
 * interrupt while it sleeps in HLT.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { LINUX_BOOT_TIMEOUT_MS, linuxGuest } from './helpers/linux-guest';

const START = join(__dirname, '..', '..', 'scripts', 'start');
t.setTimeout(2 * LINUX_BOOT_TIMEOUT_MS);

t.test('npm start boots the default guest to a shell that runs what the user types; poweroff exits 0', { skip: linuxGuest('cloud').skip }, async (t) => {
  const result = await new Promise<{ status: number | null; out: string }>((resolve, reject) => {
    const child = spawn(START, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let typed = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), LINUX_BOOT_TIMEOUT_MS);
    const onData = (d: Buffer): void => {
      out += d.toString('latin1');
      if (!typed && out.includes('tsvisor-guest: init reached')) {
        typed = true;
        // The shell starts just after the marker: type once its prompt is there.
        const waitForPrompt = setInterval(() => {
          if (!/\/ # /.test(out)) return;
          clearInterval(waitForPrompt);
          child.stdin.write('echo typed-$((6*7))\n');
          child.stdin.write('poweroff -f\n');
        }, 200);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, out }); });
  });
  t.match(result.out, 'tsvisor: booting', 'the script says what it boots');
  t.match(result.out, /typed-42\r?\n/, `the shell ran the typed command (the guest computed 6*7)\n${result.out.split('\n').slice(-8).join('\n')}`);
  t.match(result.out, 'reboot: Power down', 'poweroff reached the guest kernel');
  t.equal(result.status, 0, 'back in the host shell with status 0');
});
