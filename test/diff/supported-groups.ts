/**
 * Instruction groups the software CPU is expected to get exactly right.
 * tcg-diff tests assert 0 mismatches for these; every other group runs as a
 * tap `todo`, so its mismatches stay visible without failing CI. Move a group
 * here once it passes; never take one out to make a test pass.
 */
import { Group } from './cases';

export const SUPPORTED_GROUPS: readonly Group[] = [];
