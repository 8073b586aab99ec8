import type { Handler } from './cpu';
export function registerX87Ops(t: Handler[]): void { void t; }
