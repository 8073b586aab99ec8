/**
 * Instruction groups the software CPU is expected to get exactly right.
 * tcg-diff tests assert 0 mismatches for these; every other group runs with
 * a tap `todo` assertion, so its mismatches stay visible without failing CI.
 * Move a group here once it passes; never take one out to make a test pass.
 */
import { Group } from './cases';

export const SUPPORTED_GROUPS: readonly Group[] = [
  'alu', 'shift', 'muldiv', 'bitops', 'flow', 'mov', 'atomic', 'string', 'stack', 'segment', 'misc', 'privileged', 'sse-int', 'sse-fp', 'x87',
];
