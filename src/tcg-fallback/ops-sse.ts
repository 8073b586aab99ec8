import type { Handler } from './cpu';
export function registerSseOps(t: Handler[]): void { void t; }
