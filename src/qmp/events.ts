/** QMP event messages: QEMU's layout with a wall-clock timestamp in seconds and microseconds. */
import { JsonObject } from './json-value';
import { VmEvent } from './vm-control';

export function eventMessage(e: VmEvent, nowMicros = wallClockMicros()): JsonObject {
  const msg: JsonObject = {
    event: e.event,
    timestamp: { seconds: Math.floor(nowMicros / 1e6), microseconds: nowMicros % 1e6 },
  };
  if ('data' in e) msg.data = { ...e.data };
  return msg;
}

function wallClockMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}
