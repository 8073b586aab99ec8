/**
 * Whether a bzImage boots through PVH with its kernel decompressed on the
 * host, as Firecracker and Cloud Hypervisor boot an uncompressed vmlinux.
 * Under the software CPU the kernel's own LZ4 decompressor and relocation
 * pass cost a noticeable share of the boot (about 8% for the Debian cloud
 * kernel); a TypeScript decoder on the host does the same work in 0.1-0.3 s
 * of CPU (53 MB of output). Only LZ4 payloads qualify (the other compressors
 * would need their own decoders), and only when the vmlinux carries the PVH
 * entry note; everything else keeps the in-guest path.
 */
import { parseSetupHeader } from './bzimage';
import { bzImagePayload, decompressLz4Payload, payloadCompression } from './bzimage-payload';
import { isElf, parseElf } from './elf';
import { pvhEntry } from './pvh';

export type BzImagePlan =
  | { readonly kind: 'pvh'; readonly vmlinux: Uint8Array }
  /** `reason` says why, for the debug log. */
  | { readonly kind: 'in-guest'; readonly reason: string };

export function planBzImageBoot(image: Uint8Array): BzImagePlan {
  const header = parseSetupHeader(image);
  const payload = bzImagePayload(image, header);
  if (!payload) return { kind: 'in-guest', reason: 'no payload inside the image per payload_offset/payload_length' };
  const compression = payloadCompression(payload);
  if (compression !== 'lz4') return { kind: 'in-guest', reason: `${compression} payload (only LZ4 is decompressed on the host)` };
  const vmlinux = decompressLz4Payload(payload, header);
  if (!isElf(vmlinux)) return { kind: 'in-guest', reason: 'the decompressed kernel is not an ELF file' };
  // The payload is an ELF, so a malformed one is left to the kernel's own decompressor, which parses it too.
  let entry: number | undefined;
  try {
    entry = pvhEntry(parseElf(vmlinux));
  } catch (e) {
    return { kind: 'in-guest', reason: `the decompressed kernel's ELF headers: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (entry === undefined) return { kind: 'in-guest', reason: 'the decompressed kernel has no PVH entry note (CONFIG_PVH off)' };
  return { kind: 'pvh', vmlinux };
}
