// The one place that turns failures into HTTP responses: every error body is
// {"error": {"code", "message"}} (DESIGN §4), never an HTML page or a stack.
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export class HttpError extends Error {
  override readonly name = 'HttpError';
  /** More fields of the error body beside code and message (a 409 slot_held carries the current hold). */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    options?: ErrorOptions & { details?: Record<string, unknown> },
  ) {
    super(message, options);
    this.details = options?.details;
  }
}

export function errorResponse(
  c: Context,
  status: ContentfulStatusCode,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): Response {
  return c.json({ error: { code, message, ...details } }, status);
}
