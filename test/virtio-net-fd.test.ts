/**
 * `--net fd=N` at run time: a TAP fd opened by someone else (as libvirt
 * passes one) carries frames both ways through a running tsvisor.
 *
 * The test opens the TAP itself and hands it to `tsvisor run` as fd 3. The
 * guest is a few instructions of 32-bit code on microvm that drive the
 * virtio-mmio net device by polling (no interrupts): it sends a UDP "hello"
 * to the host, then waits for a UDP "ping" from the host and answers "pong".
 * The host end is an ordinary UDP socket on the TAP interface's address, so
 * each direction is checked by the host kernel's own IP stack.
 */
import t from 'tap';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { closeSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IFF_NO_PI, IFF_TAP, IFF_VNET_HDR, TapAddon } from '../src/devices/virtio/net/tap-backend';
import { VIRTIO_NET_HDR_SIZE } from '../src/devices/virtio/net/net-constants';
import { tapAddon } from '../src/kvm/tap';
import { probeKvm } from '../src/machine/accel-select';
import { assemble, toolchainMissing } from './helpers/assemble';
import { TSVISOR_BIN } from './helpers/tsvisor-cli';

function addonOrReason(): TapAddon | string {
  try { return tapAddon(); } catch (e) { return (e as Error).message; }
}
const addon = addonOrReason();
const skip = typeof addon === 'string' ? addon
  : process.getuid?.() !== 0 ? 'needs root to create a TAP'
    : spawnSync('ip', ['-V']).status !== 0 ? 'needs iproute2'
      : toolchainMissing() ?? false;

const GUEST_MAC = [0x52, 0x54, 0x00, 0x77, 0x0f, 0xd3];
const HOST_PORT = 40000 + (process.pid % 10000);
const GUEST_PORT = 7777;

function ipChecksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i] << 8) | header[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A virtio-net header (all zero: no offloads) and an Ethernet/IPv4/UDP frame; UDP checksum 0 (none). */
function udpFrame(dstMac: number[], srcMac: number[], srcIp: number[], dstIp: number[], sport: number, dport: number, text: string): Uint8Array {
  const payload = Buffer.from(text);
  const ip = new Uint8Array(20);
  ip.set([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, ...srcIp, ...dstIp]);
  const total = 20 + 8 + payload.length;
  ip[2] = total >> 8; ip[3] = total & 0xff;
  const csum = ipChecksum(ip);
  ip[10] = csum >> 8; ip[11] = csum & 0xff;
  const udp = [sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, (8 + payload.length) >> 8, (8 + payload.length) & 0xff, 0, 0];
  return Uint8Array.from([...new Uint8Array(VIRTIO_NET_HDR_SIZE), ...dstMac, ...srcMac, 0x08, 0x00, ...ip, ...udp, ...payload]);
}

const bytes = (b: Uint8Array): string => `.byte ${[...b].join(',')}`;

/** The guest: virtio-mmio slot 0 (the only device) at 0xd0000000; rings and the RX buffer at 2 MiB. */
function guestSource(hello: Uint8Array, pong: Uint8Array): string {
  // "ping" as a little-endian dword, where a UDP payload starts after the vnet header and Ethernet/IP/UDP headers.
  const pingOffset = VIRTIO_NET_HDR_SIZE + 14 + 20 + 8;
  return `
.code32
.set MMIO, 0xd0000000
.set RXD, 0x200000
.set RXA, 0x201000
.set RXU, 0x202000
.set TXD, 0x203000
.set TXA, 0x204000
.set TXU, 0x205000
.set RXBUF, 0x210000
_start:
  cli
  mov $MMIO, %ebx
  movl $0, 0x70(%ebx)          # reset
  movl $1, 0x70(%ebx)          # ACKNOWLEDGE
  movl $3, 0x70(%ebx)          # DRIVER
  movl $1, 0x24(%ebx)          # driver features, word 1:
  movl $1, 0x20(%ebx)          #   VIRTIO_F_VERSION_1
  movl $0, 0x24(%ebx)
  movl $0, 0x20(%ebx)          # word 0: nothing (no MRG_RXBUF, no offloads)
  movl $11, 0x70(%ebx)         # FEATURES_OK
  movl $0, 0x30(%ebx)          # queue 0: receive
  movl $4, 0x38(%ebx)
  movl $RXD, 0x80(%ebx)
  movl $RXA, 0x90(%ebx)
  movl $RXU, 0xa0(%ebx)
  movl $1, 0x44(%ebx)
  movl $1, 0x30(%ebx)          # queue 1: transmit
  movl $4, 0x38(%ebx)
  movl $TXD, 0x80(%ebx)
  movl $TXA, 0x90(%ebx)
  movl $TXU, 0xa0(%ebx)
  movl $1, 0x44(%ebx)
  movl $15, 0x70(%ebx)         # DRIVER_OK
  # one receive buffer: descriptor 0, device-writable
  movl $RXBUF, RXD
  movl $2048, RXD+8
  movw $2, RXD+12
  movw $0, RXA+4
  movw $1, RXA+2
  movl $0, 0x50(%ebx)
  # transmit hello: descriptor 0
  movl $hello, TXD
  movl $(hello_end - hello), TXD+8
  movw $0, TXA+4
  movw $1, TXA+2
  movl $1, 0x50(%ebx)
  xor %esi, %esi               # receive used index seen so far
wait:
  movzwl RXU+2, %eax
  cmp %esi, %eax
  je wait
  mov %eax, %esi
  cmpl $0x676e6970, RXBUF+${pingOffset}
  je got_ping
  movzwl RXA+2, %eax           # something else (not ours): offer the buffer again
  mov %eax, %ecx
  and $3, %ecx
  movw $0, RXA+4(,%ecx,2)
  inc %eax
  movw %ax, RXA+2
  movl $0, 0x50(%ebx)
  jmp wait
got_ping:
  movl $pong, TXD+16           # transmit pong: descriptor 1
  movl $(pong_end - pong), TXD+24
  movw $1, TXA+6
  movw $2, TXA+2
  movl $1, 0x50(%ebx)
done:
  hlt
  jmp done
hello:
  ${bytes(hello)}
hello_end:
pong:
  ${bytes(pong)}
pong_end:
`;
}

function sh(cmd: string): void {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr.trim()}`);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const kvm = probeKvm();
const accels = ['tcg', ...(kvm.openable ? ['kvm'] : [])];

for (const accel of accels) {
  t.test(`--net fd=N (${accel}): an inherited TAP fd carries frames both ways`, { skip }, async (t) => {
    const tapLib = addon as TapAddon;
    const { fd, name } = tapLib.tapOpen('tsvfd%d', IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
    let fdOpen = true;
    t.teardown(() => { if (fdOpen) closeSync(fd); });
    const subnet = [10, 214, process.pid % 250];
    const hostIp = [...subnet, 1];
    const guestIp = [...subnet, 2];
    const dotted = (a: number[]): string => a.join('.');
    const guestMac = GUEST_MAC.map((b) => b.toString(16).padStart(2, '0')).join(':');
    sh(`sysctl -qw net.ipv6.conf.${name}.disable_ipv6=1 && ip addr add ${dotted(hostIp)}/24 dev ${name} && ip link set ${name} up`
      + ` && ip neigh replace ${dotted(guestIp)} lladdr ${guestMac} dev ${name} nud permanent`);
    const hostMac = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim().split(':').map((h) => parseInt(h, 16));

    const hello = udpFrame(hostMac, GUEST_MAC, guestIp, hostIp, GUEST_PORT, HOST_PORT, 'hello from the guest');
    const pong = udpFrame(hostMac, GUEST_MAC, guestIp, hostIp, GUEST_PORT, HOST_PORT, 'pong');
    const guest = join(mkdtempSync(join(tmpdir(), 'tsvisor-netfd-')), 'guest.bin');
    writeFileSync(guest, assemble(guestSource(hello, pong), { bits: 32, loadAddress: 0x100000 }));

    const sock = createSocket('udp4');
    const received: string[] = [];
    sock.on('message', (m, from) => { if (from.address === dotted(guestIp)) received.push(m.toString()); });
    await new Promise<void>((resolve) => sock.bind(HOST_PORT, dotted(hostIp), resolve));
    t.teardown(() => sock.close());

    // The TAP becomes the child's fd 3, as libvirt's would; ours can go then.
    const vm = spawn(process.execPath, [TSVISOR_BIN, 'run', '--kernel', guest, '--kernel-format', 'raw,load=0x100000,mode=32',
      '--machine', 'microvm', '--accel', accel, '--serial', 'none', '--net', `fd=3,mac=${guestMac}`],
    { stdio: ['ignore', 'ignore', 'pipe', fd] });
    closeSync(fd);
    fdOpen = false;
    let stderr = '';
    vm.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    t.teardown(async () => { vm.kill('SIGKILL'); await exited(vm); });

    const until = async (what: string, cond: () => boolean, tick?: () => void): Promise<void> => {
      const end = Date.now() + 30_000;
      while (!cond()) {
        if (Date.now() > end || vm.exitCode !== null) throw new Error(`no ${what} (tsvisor: ${vm.exitCode === null ? 'running' : `exited ${vm.exitCode}`}; ${stderr.trim()})`);
        tick?.();
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await until('hello', () => received.includes('hello from the guest'));
    t.pass('guest to host: the guest\'s UDP datagram reached a host socket');
    const ping = Buffer.from('ping');
    await until('pong', () => received.includes('pong'), () => sock.send(ping, GUEST_PORT, dotted(guestIp)));
    t.pass('host to guest: the guest saw the host\'s ping and answered');
  });
}
