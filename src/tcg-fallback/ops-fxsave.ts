import type { Handler } from './cpu';
export function registerFxsaveOps(t: Handler[]): void { void t; }
