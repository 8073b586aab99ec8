/** One shared, immutable handler table for every CPU instance (built on first use). */
import type { Handler } from './cpu';
import { buildHandlerTable } from './dispatch';

let table: Handler[] | undefined;

export function handlerTable(): Handler[] {
  table ??= buildHandlerTable();
  return table;
}
