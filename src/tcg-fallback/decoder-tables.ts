/**
 * Per-opcode decoding facts: whether a ModRM byte follows, what immediate
 * follows, and whether the operand size defaults to 64 bits in long mode.
 * Opcode ids are `map << 8 | byte` with map 0 = one-byte, 1 = 0F, 2 = 0F 38,
 * 3 = 0F 3A (Intel SDM vol. 2 appendix A).
 */

export const IMM_NONE = 0;
/** 8-bit immediate (sign-extended by the consumer where needed). */
export const IMM_B = 1;
/** 16-bit immediate. */
export const IMM_W = 2;
/** 16 or 32 bits by operand size (imm32 sign-extended for 64-bit operands). */
export const IMM_Z = 3;
/** 16, 32 or 64 bits by operand size (MOV r, imm). */
export const IMM_V = 4;
/** ENTER: imm16 then imm8. */
export const IMM_W_B = 5;
/** Far pointer: offset (16/32 by operand size) then selector. */
export const IMM_FAR = 6;
/** Memory offset of address size (MOV A0-A3). */
export const IMM_MOFFS = 7;
/** Group 3 (F6/F7): immediate only for TEST (/0, /1); resolved after ModRM. */
export const IMM_GROUP3 = 8;

export const OPCODE_COUNT = 0x400;

/** 1 when the opcode has a ModRM byte. */
export const hasModrm = new Uint8Array(OPCODE_COUNT);
/** IMM_* kind per opcode. */
export const immKind = new Uint8Array(OPCODE_COUNT);
/** 1 when the operand size defaults to 64 bits in 64-bit mode (stack and near branches). */
export const default64 = new Uint8Array(OPCODE_COUNT);
/** 1 when the operand size is always 64 bits in 64-bit mode (MOV CR/DR, near branches on Intel). */
export const force64 = new Uint8Array(OPCODE_COUNT);

function range(from: number, to: number, f: (op: number) => void): void {
  for (let op = from; op <= to; op++) f(op);
}

// One-byte map.
for (let row = 0; row < 8; row++) {
  const b = row * 8;
  range(b, b + 3, (op) => { hasModrm[op] = 1; });
  immKind[b + 4] = IMM_B;
  immKind[b + 5] = IMM_Z;
}
for (const op of [0x62, 0x63, 0x69, 0x6b, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff]) {
  hasModrm[op] = 1;
}
range(0x80, 0x8f, (op) => { hasModrm[op] = 1; });
range(0xd8, 0xdf, (op) => { hasModrm[op] = 1; });
immKind[0x68] = IMM_Z;
immKind[0x69] = IMM_Z;
immKind[0x6a] = IMM_B;
immKind[0x6b] = IMM_B;
range(0x70, 0x7f, (op) => { immKind[op] = IMM_B; });
immKind[0x80] = IMM_B;
immKind[0x81] = IMM_Z;
immKind[0x82] = IMM_B;
immKind[0x83] = IMM_B;
immKind[0x9a] = IMM_FAR;
range(0xa0, 0xa3, (op) => { immKind[op] = IMM_MOFFS; });
immKind[0xa8] = IMM_B;
immKind[0xa9] = IMM_Z;
range(0xb0, 0xb7, (op) => { immKind[op] = IMM_B; });
range(0xb8, 0xbf, (op) => { immKind[op] = IMM_V; });
immKind[0xc0] = IMM_B;
immKind[0xc1] = IMM_B;
immKind[0xc2] = IMM_W;
immKind[0xc6] = IMM_B;
immKind[0xc7] = IMM_Z;
immKind[0xc8] = IMM_W_B;
immKind[0xca] = IMM_W;
immKind[0xcd] = IMM_B;
immKind[0xd4] = IMM_B;
immKind[0xd5] = IMM_B;
range(0xe0, 0xe7, (op) => { immKind[op] = IMM_B; });
immKind[0xe8] = IMM_Z;
immKind[0xe9] = IMM_Z;
immKind[0xea] = IMM_FAR;
immKind[0xeb] = IMM_B;
immKind[0xf6] = IMM_GROUP3;
immKind[0xf7] = IMM_GROUP3;
range(0x50, 0x5f, (op) => { default64[op] = 1; });
for (const op of [0x68, 0x6a, 0x8f, 0x9c, 0x9d, 0xc2, 0xc3, 0xc8, 0xc9, 0xff]) default64[op] = 1;
range(0x70, 0x7f, (op) => { force64[op] = 1; });
for (const op of [0xe0, 0xe1, 0xe2, 0xe3, 0xe8, 0xe9, 0xeb]) force64[op] = 1;

// Two-byte map (0F xx): nearly everything has ModRM; list the exceptions.
range(0x100, 0x1ff, (op) => { hasModrm[op] = 1; });
const noModrm0F = [0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77,
  0xa0, 0xa1, 0xa2, 0xa8, 0xa9, 0xaa];
for (const b of noModrm0F) hasModrm[0x100 | b] = 0;
range(0x180, 0x18f, (op) => { hasModrm[op] = 0; immKind[op] = IMM_Z; force64[op] = 1; });
range(0x1c8, 0x1cf, (op) => { hasModrm[op] = 0; });
for (const b of [0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4, 0xc5, 0xc6]) immKind[0x100 | b] = IMM_B;
for (const b of [0xa0, 0xa1, 0xa8, 0xa9]) default64[0x100 | b] = 1;
// MOV to/from CR/DR: always 64-bit operands in long mode.
range(0x120, 0x123, (op) => { force64[op] = 1; });

// Three-byte maps: all ModRM; 0F 3A also an imm8.
range(0x200, 0x3ff, (op) => { hasModrm[op] = 1; });
range(0x300, 0x3ff, (op) => { immKind[op] = IMM_B; });
