// Request bodies: parsed and validated at the edge, so routes only see typed
// values and a bad request gets a 400 that names the field.
import type { Context } from 'hono';
import type { z } from 'zod';
import { formatKeyPath } from '../config/config-error.js';
import { HttpError } from './http-error.js';

/** Bodies are small JSON documents; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 64 * 1024;

export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.output<T>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES)
    throw new HttpError(413, 'body_too_large', `the request body is over ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const message = parsed.error.issues
      .map((i) => `${i.path.length > 0 ? `${formatKeyPath(i.path)}: ` : ''}${issueMessage(i)}`)
      .join('; ');
    throw new HttpError(400, 'invalid_request', message);
  }
  return parsed.data;
}

/** zod wraps a refused record key ("env.LABSLOT_TOKEN") in an issue of its own; the inner one says why. */
function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_key') return issue.issues[0]?.message ?? issue.message;
  return issue.message;
}
