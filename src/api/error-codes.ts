// Every `error.code` the JSON API answers (DESIGN §4: `{"error": {"code",
// "message"}}`), with its HTTP status and the exit code the CLI gives when the
// agent refuses with it (README "Exit codes": 2 when the command line named
// something wrong, 1 when the agent's answer is "no"). Data only and a leaf, so
// the CLI reads it without loading the agent's modules; http/error-map.ts maps
// error classes to these codes.
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const USAGE = 2;
const FAILURE = 1;

export const API_ERRORS = {
  // The request itself is wrong: the command line was.
  invalid_json: { status: 400, exit: USAGE },
  invalid_request: { status: 400, exit: USAGE },
  bad_request: { status: 400, exit: USAGE },
  unknown_target: { status: 400, exit: USAGE },
  bad_archive: { status: 400, exit: USAGE },
  // A slot name is configuration: an unknown one is a usage error. A job id is not (it may be gone).
  slot_not_found: { status: 404, exit: USAGE },
  // A device name is configuration too (`labslot power on SLOT DEVICE`).
  power_device_not_found: { status: 404, exit: USAGE },
  job_not_found: { status: 404, exit: FAILURE },
  no_outputs: { status: 404, exit: FAILURE },
  not_found: { status: 404, exit: FAILURE },
  unauthorized: { status: 401, exit: FAILURE },
  token_expired: { status: 401, exit: FAILURE },
  forbidden: { status: 403, exit: FAILURE },
  bad_host: { status: 403, exit: FAILURE },
  // Another slot's outlet: the token is fine, the outlet is not this slot's.
  power_device_forbidden: { status: 403, exit: FAILURE },
  slot_held: { status: 409, exit: FAILURE },
  not_held: { status: 409, exit: FAILURE },
  job_done: { status: 409, exit: FAILURE },
  no_power_device: { status: 409, exit: FAILURE },
  no_input_expected: { status: 409, exit: FAILURE },
  body_too_large: { status: 413, exit: FAILURE },
  input_too_large: { status: 413, exit: FAILURE },
  internal: { status: 500, exit: FAILURE },
  // The outlet's driver failed (pdudaemon refused or unreachable, a command failed, no answer in time).
  power_failed: { status: 502, exit: FAILURE },
  // Another agent of the lab (the host running a job whose output is asked here) gave no answer.
  peer_unreachable: { status: 502, exit: FAILURE },
  database_unreadable: { status: 503, exit: FAILURE },
  // A lab (DESIGN §7): the shared database is out of reach, or the host that has the job or slot is.
  lab_unavailable: { status: 503, exit: FAILURE },
  host_offline: { status: 503, exit: FAILURE },
  disk_full: { status: 507, exit: FAILURE },
} as const satisfies Record<string, { status: ContentfulStatusCode; exit: typeof USAGE | typeof FAILURE }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

/** The exit code for a refusal; a code this CLI does not know (a newer agent's) goes by its status. */
export function exitCodeForRefusal(status: number, code: string | undefined): number {
  const known = code !== undefined && Object.hasOwn(API_ERRORS, code) ? API_ERRORS[code as ApiErrorCode] : undefined;
  return known?.exit ?? (status === 400 ? USAGE : FAILURE);
}
