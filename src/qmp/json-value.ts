/**
 * JSON values as the QMP parser produces them. Objects have no prototype, so
 * a key like "__proto__" is just data. Integers beyond 2^53 are bigints, so
 * an id like 18446744073709551615 is echoed exactly, as QEMU (int64/uint64) does.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function newJsonObject(): JsonObject {
  return Object.create(null) as JsonObject;
}

export function hasKey(o: JsonObject, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, key);
}
