/**
 * A small WebAssembly binary writer: the instructions the block translator
 * emits (integer arithmetic, loads and stores, locals, structured control,
 * calls and tail calls) and a module with one memory and one table, both
 * imported, so every module the translator builds shares the guest's RAM and
 * the table of compiled blocks. Only what the translator needs; see the
 * WebAssembly core specification (binary format, section 5) for the layout.
 */

/** Value types. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;

/** Unsigned LEB128. */
export function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>>= 7;
    if (v === 0) { out.push(byte); return; }
    out.push(byte | 0x80);
  }
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb32(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) { out.push(byte); return; }
    out.push(byte | 0x80);
  }
}

/** Signed LEB128 of a 64-bit integer. */
export function sleb64(out: number[], value: bigint): void {
  let v = BigInt.asIntN(64, value);
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) { out.push(byte); return; }
    out.push(byte | 0x80);
  }
}

/** Opcodes used by the translator (names as in the specification's text format). */
export const Op = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, return: 0x0f,
  call: 0x10, returnCall: 0x12, returnCallIndirect: 0x13, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, f64Load: 0x2b, i32Load8U: 0x2d, i32Load16U: 0x2f,
  i64Load8U: 0x31, i64Load8S: 0x30, i64Load16U: 0x33, i64Load16S: 0x32, i64Load32U: 0x35, i64Load32S: 0x34,
  i32Store: 0x36, i64Store: 0x37, f64Store: 0x39, i32Store8: 0x3a, i32Store16: 0x3b, i64Store8: 0x3c, i64Store16: 0x3d, i64Store32: 0x3e,
  i32Const: 0x41, i64Const: 0x42,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32LtU: 0x49, i32GtS: 0x4a, i32GtU: 0x4b, i32LeS: 0x4c, i32LeU: 0x4d, i32GeS: 0x4e, i32GeU: 0x4f,
  i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i64LtS: 0x53, i64LtU: 0x54, i64GtS: 0x55, i64GtU: 0x56, i64LeS: 0x57, i64LeU: 0x58, i64GeS: 0x59, i64GeU: 0x5a,
  f64Eq: 0x61, f64Ne: 0x62,
  i32Popcnt: 0x69, i32Rotl: 0x77, i32Rotr: 0x78, i64Rotl: 0x89, i64Rotr: 0x8a, i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Xor: 0x73, i32Shl: 0x74, i32ShrS: 0x75, i32ShrU: 0x76,
  i64Add: 0x7c, i64Sub: 0x7d, i64Mul: 0x7e, i64DivS: 0x7f, i64DivU: 0x80, i64RemS: 0x81, i64RemU: 0x82, i64And: 0x83, i64Or: 0x84, i64Xor: 0x85, i64Shl: 0x86, i64ShrS: 0x87, i64ShrU: 0x88,
  i32WrapI64: 0xa7, i64ExtendI32S: 0xac, i64ExtendI32U: 0xad, f64ConvertI64S: 0xb9,
  i64Extend8S: 0xc2, i64Extend16S: 0xc3, i64Extend32S: 0xc4,
} as const;

/** Block type of a structured instruction with no result. */
export const VOID = 0x40;

/** The body of one function: its extra locals and its code bytes. */
export class FunctionBody {
  readonly code: number[] = [];
  /** Types of the locals after the parameters, in order. */
  readonly localTypes: number[] = [];

  constructor(readonly paramCount: number) {}

  /** A new local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  op(...bytes: number[]): this { for (const b of bytes) this.code.push(b); return this; }
  i32(value: number): this { this.code.push(Op.i32Const); sleb32(this.code, value); return this; }
  i64(value: bigint): this { this.code.push(Op.i64Const); sleb64(this.code, value); return this; }
  f64(value: number): this {
    this.code.push(0x44);
    const bytes = new Uint8Array(new Float64Array([value]).buffer);
    for (const b of bytes) this.code.push(b);
    return this;
  }
  get(local: number): this { this.code.push(Op.localGet); uleb(this.code, local); return this; }
  set(local: number): this { this.code.push(Op.localSet); uleb(this.code, local); return this; }
  tee(local: number): this { this.code.push(Op.localTee); uleb(this.code, local); return this; }
  /** A load or store with alignment hint `align` (log2) and constant `offset`. */
  mem(opcode: number, offset: number, align = 0): this {
    this.code.push(opcode);
    uleb(this.code, align);
    uleb(this.code, offset);
    return this;
  }
  call(fn: number): this { this.code.push(Op.call); uleb(this.code, fn); return this; }
  returnCall(fn: number): this { this.code.push(Op.returnCall); uleb(this.code, fn); return this; }
  returnCallIndirect(type: number, table: number): this { this.code.push(Op.returnCallIndirect); uleb(this.code, type); uleb(this.code, table); return this; }
  ifVoid(): this { this.code.push(Op.if, VOID); return this; }
  blockVoid(): this { this.code.push(Op.block, VOID); return this; }
  loopVoid(): this { this.code.push(Op.loop, VOID); return this; }
  ifResult(type: number): this { this.code.push(Op.if, type); return this; }
  br(depth: number): this { this.code.push(Op.br); uleb(this.code, depth); return this; }
  brIf(depth: number): this { this.code.push(Op.brIf); uleb(this.code, depth); return this; }

  /** The function's entry in the code section: size, local declarations, code, end. */
  encode(): number[] {
    const body: number[] = [];
    // Runs of one type share a declaration.
    const runs: [number, number][] = [];
    for (const t of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === t) last[0]++; else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [count, type] of runs) { uleb(body, count); body.push(type); }
    for (const b of this.code) body.push(b);
    body.push(Op.end);
    const out: number[] = [];
    uleb(out, body.length);
    for (const b of body) out.push(b);
    return out;
  }
}

/** A function type: parameter and result types. */
export interface FunctionType {
  params: number[];
  results: number[];
}

/** Bytes appended to a buffer that grows by doubling (modules of thousands of functions are megabytes). */
class ByteWriter {
  private bytes = new Uint8Array(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.length + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(b: number): void { this.reserve(1); this.bytes[this.length++] = b; }
  all(data: ArrayLike<number>): void {
    this.reserve(data.length);
    if (data instanceof Uint8Array) this.bytes.set(data, this.length);
    else for (let k = 0; k < data.length; k++) this.bytes[this.length + k] = data[k];
    this.length += data.length;
  }
  uleb(value: number): void { const tmp: number[] = []; uleb(tmp, value); this.all(tmp); }
  /** A section: id, size, content. */
  section(id: number, content: ByteWriter | number[]): void {
    this.byte(id);
    const data = content instanceof ByteWriter ? content.result() : content;
    this.uleb(data.length);
    this.all(data);
  }
  result(): Uint8Array { return this.bytes.subarray(0, this.length); }
}

function name(out: number[], text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  uleb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/**
 * A module importing memory `env.memory` and a funcref table `env.modules`
 * (table 0, at least `importedTableSize` entries), with its own funcref table
 * (table 1) holding `tabled` (function indices) at 0, 1, ...; `functions` are
 * already encoded code-section entries (FunctionBody.encode); `exported`
 * names functions.
 */
export function encodeModule(types: FunctionType[], functions: { type: number; code: ArrayLike<number> }[],
  exported: { name: string; fn: number }[], tabled: number[], importedTableSize: number): Uint8Array {
  const out = new ByteWriter();
  out.all([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const typeSec: number[] = [];
  uleb(typeSec, types.length);
  for (const t of types) {
    typeSec.push(0x60);
    uleb(typeSec, t.params.length); for (const p of t.params) typeSec.push(p);
    uleb(typeSec, t.results.length); for (const r of t.results) typeSec.push(r);
  }
  out.section(1, typeSec);
  const importSec: number[] = [];
  uleb(importSec, 2);
  name(importSec, 'env'); name(importSec, 'memory'); importSec.push(0x02, 0x00); uleb(importSec, 0);
  name(importSec, 'env'); name(importSec, 'modules'); importSec.push(0x01, 0x70, 0x00); uleb(importSec, importedTableSize);
  out.section(2, importSec);
  const funcSec = new ByteWriter();
  funcSec.uleb(functions.length);
  for (const f of functions) funcSec.uleb(f.type);
  out.section(3, funcSec);
  const tableSec: number[] = [];
  uleb(tableSec, 1);
  tableSec.push(0x70, 0x00); uleb(tableSec, tabled.length);
  out.section(4, tableSec);
  const exportSec: number[] = [];
  uleb(exportSec, exported.length);
  for (const e of exported) { name(exportSec, e.name); exportSec.push(0x00); uleb(exportSec, e.fn); }
  out.section(7, exportSec);
  // One active element segment: table 1 (the module's own) from offset 0, function indices.
  const elemSec = new ByteWriter();
  elemSec.uleb(1);
  elemSec.all([0x02, 0x01, Op.i32Const, 0x00, Op.end, 0x00]);
  elemSec.uleb(tabled.length);
  for (const fn of tabled) elemSec.uleb(fn);
  out.section(9, elemSec);
  const codeSec = new ByteWriter();
  codeSec.uleb(functions.length);
  for (const f of functions) codeSec.all(f.code);
  out.section(10, codeSec);
  return out.result();
}
