import t from 'tap';
import { gunzipSync } from 'node:zlib';
import { readCpio, writeCpio } from '../src/machine/cpio';
import { buildInitramfs } from '../src/machine/initramfs';

t.test('newc entries round-trip with 4-byte padding and a trailer', async (t) => {
  const archive = writeCpio([
    { type: 'dir', path: '/etc' },
    { type: 'file', path: 'etc/hello', data: new TextEncoder().encode('hi!'), mode: 0o600 },
    { type: 'symlink', path: 'sh', target: 'bin/busybox' },
    { type: 'chardev', path: 'console', major: 5, minor: 1 },
  ]);
  t.equal(archive.length % 4, 0);
  t.equal(new TextDecoder().decode(archive.subarray(0, 6)), '070701');
  const members = readCpio(archive);
  t.same(members.map((m) => m.name), ['etc', 'etc/hello', 'sh', 'console']);
  t.equal(members[0].mode, 0o040755);
  t.equal(members[1].mode, 0o100600);
  t.equal(new TextDecoder().decode(members[1].data), 'hi!');
  t.equal(new TextDecoder().decode(members[2].data), 'bin/busybox');
  t.same([members[3].rdevMajor, members[3].rdevMinor], [5, 1]);
});

t.test('paths escaping the root are refused', async (t) => {
  t.throws(() => writeCpio([{ type: 'dir', path: '../x' }]), /bad cpio path/);
});

t.test('buildInitramfs: gzip, /init executable, parents created, /dev/console present', async (t) => {
  const image = buildInitramfs({ init: '#!/bin/sh\necho hi\n', files: { 'usr/share/x/data.txt': 'x', 'bin/tool': 'y' } });
  t.same([image[0], image[1]], [0x1f, 0x8b], 'gzip magic');
  const members = readCpio(new Uint8Array(gunzipSync(image)));
  const byName = new Map(members.map((m) => [m.name, m]));
  t.equal(byName.get('init')?.mode, 0o100755);
  t.equal(byName.get('bin/tool')?.mode, 0o100755);
  t.equal(byName.get('usr/share/x/data.txt')?.mode, 0o100644);
  t.ok(byName.has('usr/share/x'));
  t.ok(members.findIndex((m) => m.name === 'usr/share/x') < members.findIndex((m) => m.name === 'usr/share/x/data.txt'));
  t.equal(byName.get('dev/console')?.mode, 0o020600);
});
