/**
 * The order in which QEMU walks a JSON object's members. QEMU keeps objects
 * in a QDict, a 512-bucket hash table (qobject/qdict.c, tdb_hash), and both
 * prints members and checks a request's members in bucket order, newest
 * first within a bucket. Reproducing it makes our replies byte-identical to
 * QEMU's and makes us report the same member first when a request has
 * several problems.
 */
const BUCKETS = 512;

function tdbHash(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + ((bytes[i] << ((i * 5) % 24)) >>> 0)) >>> 0;
  }
  return (Math.imul(1103515243, value) + 12345) >>> 0;
}

const bucketCache = new Map<string, number>();

function bucket(key: string): number {
  let b = bucketCache.get(key);
  if (b === undefined) {
    b = tdbHash(key) % BUCKETS;
    if (bucketCache.size < 4096) bucketCache.set(key, b);
  }
  return b;
}

/** Keys (in insertion order) rearranged into QDict iteration order. */
export function qdictOrder(keys: string[]): string[] {
  if (keys.length < 2) return keys;
  return keys
    .map((key, index) => ({ key, index, bucket: bucket(key) }))
    .sort((a, b) => a.bucket - b.bucket || b.index - a.index)
    .map((e) => e.key);
}
