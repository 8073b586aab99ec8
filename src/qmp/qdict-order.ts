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

/** GLib's g_str_hash (djb2 over the bytes as signed chars). */
function gStrHash(key: string): number {
  let h = 5381;
  for (const byte of Buffer.from(key, 'utf8')) {
    const signed = byte > 127 ? byte - 256 : byte;
    h = ((h << 5) + h + signed) >>> 0;
  }
  return h;
}

/** GLib's table sizes: 1 << shift slots, indices from (hash * 11) % prime. */
const PRIME_MOD = [1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071];
const MIN_SHIFT = 3;
const UNUSED = 0;
const TOMBSTONE = 1;

/**
 * Just enough of GLib's GHashTable (glib/ghash.c, 2.74) to know its
 * iteration order: open addressing with quadratic probing, tombstones,
 * and the in-place rehash by eviction when it grows or shrinks.
 */
class GHashTableModel {
  private shift = MIN_SHIFT;
  private size = 1 << MIN_SHIFT;
  private mod = PRIME_MOD[MIN_SHIFT];
  private mask = this.size - 1;
  private nnodes = 0;
  private noccupied = 0;
  private hashes: number[] = new Array<number>(this.size).fill(UNUSED);
  private keys: Array<string | undefined> = new Array<string | undefined>(this.size);

  private toIndex(hash: number): number {
    // guint arithmetic: the multiplication wraps at 32 bits.
    return (Math.imul(hash, 11) >>> 0) % this.mod;
  }

  private lookup(key: string, hash: number): number {
    let index = this.toIndex(hash);
    let step = 0;
    let tombstone = -1;
    while (this.hashes[index] !== UNUSED) {
      if (this.hashes[index] === hash && this.keys[index] === key) return index;
      if (this.hashes[index] === TOMBSTONE && tombstone < 0) tombstone = index;
      step++;
      index = (index + step) & this.mask;
    }
    return tombstone >= 0 ? tombstone : index;
  }

  insert(key: string): void {
    const hash = Math.max(gStrHash(key), 2);
    const index = this.lookup(key, hash);
    const old = this.hashes[index];
    this.hashes[index] = hash;
    this.keys[index] = key;
    if (old >= 2) return;
    this.nnodes++;
    if (old === UNUSED) {
      this.noccupied++;
      this.maybeResize();
    }
  }

  remove(key: string): void {
    const hash = Math.max(gStrHash(key), 2);
    const index = this.lookup(key, hash);
    if (this.hashes[index] < 2) return;
    this.hashes[index] = TOMBSTONE;
    this.keys[index] = undefined;
    this.nnodes--;
    this.maybeResize();
  }

  ordered(): string[] {
    return this.keys.filter((k, i): k is string => k !== undefined && this.hashes[i] >= 2);
  }

  private maybeResize(): void {
    if ((this.size > this.nnodes * 4 && this.size > 1 << MIN_SHIFT) || this.size <= this.noccupied + Math.floor(this.noccupied / 16)) {
      this.resize();
    }
  }

  private setShiftFromSize(n: number): void {
    let shift = 0;
    for (let v = Math.trunc(n); v; v >>= 1) shift++;
    this.shift = Math.max(shift, MIN_SHIFT);
    this.size = 1 << this.shift;
    this.mod = PRIME_MOD[this.shift];
    this.mask = this.size - 1;
  }

  private resize(): void {
    const oldSize = this.size;
    this.setShiftFromSize(this.nnodes * 1.333);
    for (let i = oldSize; i < this.size; i++) { this.hashes[i] = UNUSED; this.keys[i] = undefined; }
    const relocated = new Set<number>();
    for (let i = 0; i < oldSize; i++) {
      let hash = this.hashes[i];
      if (hash < 2) { this.hashes[i] = UNUSED; continue; }
      if (relocated.has(i)) continue;
      this.hashes[i] = UNUSED;
      let key = this.keys[i];
      this.keys[i] = undefined;
      for (;;) {
        let index = this.toIndex(hash);
        let step = 0;
        while (relocated.has(index)) {
          step++;
          index = (index + step) & this.mask;
        }
        relocated.add(index);
        const replacedHash = this.hashes[index];
        const replacedKey = this.keys[index];
        this.hashes[index] = hash;
        this.keys[index] = key;
        if (replacedHash < 2) break;
        hash = replacedHash;
        key = replacedKey;
      }
    }
    this.hashes.length = this.size;
    this.keys.length = this.size;
    this.noccupied = this.nnodes;
  }
}

/**
 * The order in which QEMU's input visitor finds a struct's leftover members
 * (qobject_input_check_struct): all keys go, in QDict order, into a GLib
 * hash table; each declared member present is removed as it is visited;
 * the first key the table's iterator then yields is reported as unexpected.
 */
export function leftoverOrder(keys: string[], declared: string[]): string[] {
  if (keys.length < 2) return keys;
  const table = new GHashTableModel();
  for (const key of qdictOrder(keys)) table.insert(key);
  for (const member of declared) if (keys.includes(member)) table.remove(member);
  return table.ordered();
}
