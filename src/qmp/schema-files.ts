/**
 * Reads the QMP command and event schemas from schemas/qmp/ (one JSON Schema
 * per command: the schema describes `arguments`, its "x-returns" the reply).
 * They are the single source for argument validation and for
 * query-qmp-schema, so the two cannot disagree.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JsonObject, isJsonObject } from './json-value';

export interface CommandSchema {
  name: string;
  /** JSON Schema of the `arguments` object. */
  arguments: JsonObject;
  /** JSON Schema of the `return` value. */
  returns: JsonObject;
}

export interface EventSchema {
  name: string;
  /** JSON Schema of `data`. */
  data: JsonObject;
}

/** schemas/qmp, found from this file in src/qmp or dist/src/qmp. */
export function qmpSchemaDir(): string {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = resolve(dir, '..')) {
    const candidate = join(dir, 'schemas', 'qmp');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`schemas/qmp not found above ${__dirname}`);
}

function readSchema(path: string): JsonObject {
  const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isJsonObject(value) || typeof value.title !== 'string') throw new Error(`${path}: not a JSON Schema with a title`);
  return value;
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
}

function commandSchemaAt(path: string): CommandSchema {
  const schema = readSchema(path);
  const { 'x-returns': returns, ...args } = schema;
  if (!isJsonObject(returns)) throw new Error(`${path}: "x-returns" must be a schema`);
  return { name: String(schema.title), arguments: args, returns };
}

export function loadCommandSchemas(dir = qmpSchemaDir()): CommandSchema[] {
  return jsonFiles(dir).map(commandSchemaAt);
}

/** One command's schema, read when first needed (start-up reads no schema at all). */
export function loadCommandSchema(name: string, dir = qmpSchemaDir()): CommandSchema {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`bad command name ${JSON.stringify(name)}`);
  return commandSchemaAt(join(dir, `${name}.json`));
}

export function loadEventSchemas(dir = qmpSchemaDir()): EventSchema[] {
  return jsonFiles(join(dir, 'events')).map((path) => {
    const schema = readSchema(path);
    return { name: String(schema.title), data: schema };
  });
}
