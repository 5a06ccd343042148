// Turns zod's issues into sentences for lab operators: no zod jargon
// ("record", "Too small: expected number to be >0"), and the value's TOML
// type named when it is the wrong one.
import type { z } from 'zod';
import { plural } from '../words.js';
import { configSchema } from './schema.js';
import { keysAt } from './schema-keys.js';
import { closest } from './suggest.js';
import { TomlDateTime } from './toml-date-time.js';

export interface DescribedIssue {
  path: PropertyKey[];
  message: string;
}

export function describeSchemaIssue(issue: z.core.$ZodIssue, raw: unknown): DescribedIssue[] {
  const path = [...issue.path];
  const one = (message: string): DescribedIssue[] => [{ path, message }];
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => {
        // Only keys this very table may have: a usb device is not offered a serial console's "baud".
        const hint = closest(key, keysAt(configSchema, path, valueAt(raw, path)));
        return { path: [...path, key], message: `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}` };
      });
    case 'invalid_key':
      return one(`name "${String(path.at(-1))}" ${issue.issues[0]?.message ?? 'is not allowed'}`);
    case 'invalid_union': {
      const options = 'options' in issue && Array.isArray(issue.options) ? (issue.options as unknown[]) : [];
      return one(
        options.length > 0 ? `must be one of ${options.map((o) => JSON.stringify(o)).join(', ')}` : issue.message,
      );
    }
    case 'invalid_type': {
      const value = valueAt(raw, path);
      if (value === undefined)
        return one(
          path.length === 1 && path[0] === 'slots'
            ? 'at least one [slots.NAME] table is required'
            : `is required (${typeName(issue.expected)})`,
        );
      const hint =
        issue.expected === 'string' &&
        typeof value === 'number' &&
        /duration|interval|timeout|grace|delay/.test(String(path.at(-1)))
          ? ' such as "30s"'
          : '';
      return one(`must be ${typeName(issue.expected)}${hint}, not ${tomlTypeOf(value)}`);
    }
    // Only zod's own wording is replaced; the schema's custom messages say more.
    case 'too_small':
      if (!issue.message.startsWith('Too small')) return one(issue.message);
      return one(
        issue.origin === 'string'
          ? 'must not be empty'
          : issue.origin === 'array'
            ? `must have at least ${plural(Number(issue.minimum), 'item')}`
            : issue.minimum === 0 && !issue.inclusive
              ? 'must be greater than 0'
              : `must be at least ${String(issue.minimum)}`,
      );
    case 'too_big':
      if (!issue.message.startsWith('Too big')) return one(issue.message);
      return one(
        issue.origin === 'string'
          ? `must be at most ${String(issue.maximum)} characters`
          : `must be at most ${String(issue.maximum)}`,
      );
    default:
      return one(issue.message);
  }
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const part of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}

function typeName(type: string): string {
  const words: Record<string, string> = {
    number: 'a number',
    string: 'a string',
    array: 'an array',
    object: 'a table',
    record: 'a table',
    boolean: 'a boolean (true or false)',
    int: 'an integer',
    date: 'a date',
  };
  return words[type] ?? type;
}

function tomlTypeOf(value: unknown): string {
  if (value instanceof TomlDateTime)
    return `a TOML ${value.kind} (${value.text}); put it in quotes if it is meant as text`;
  if (value instanceof Date)
    return `a TOML date-time (${value.toISOString()}); put it in quotes if it is meant as text`;
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return typeof value === 'object' && value !== null ? 'a table' : typeof value;
}
