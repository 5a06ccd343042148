// The one table from error classes to HTTP answers (DESIGN §5: "one table maps
// error classes to statuses"). Routes throw the library's errors and let them
// propagate; app.onError answers JSON from this table and the status page's
// forms show the same status and message. A class that reaches a route and is
// not here is a 500, so test/error-map.test.ts makes every error class in src/
// either appear here or say why it never reaches a route.
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { API_ERRORS, type ApiErrorCode } from '../api/error-codes.js';
import { isDatabaseUnreadable, isDiskFull } from '../errors.js';
import { ArchiveError } from '../jobs/job-archives.js';
import { InputTooLargeError } from '../jobs/job-input.js';
import { HeldSlotRefusedError, JobRefusedError, UnknownTargetError } from '../jobs/job-refusals.js';
import { JobDoneError, JobNotFoundError } from '../jobs/scheduler.js';
import { NotHeldError, SlotHeldError } from '../slots/holds.js';
import { SlotNotFoundError } from '../slots/slot-named.js';
import { holdView } from '../slots/slot-view.js';
import {
  ForeignPowerDeviceError,
  NoPowerDeviceError,
  PowerSwitchError,
  UnknownPowerDeviceError,
} from '../slots/slot-power.js';
import { HostOfflineError, LabUnavailableError } from '../lab/lab-errors.js';
import { HttpError } from './http-error.js';
import { PeerUnreachableError } from './peer-fetch.js';

/** What a failed request answers: the status and the body's `error` object. */
export interface ErrorAnswer {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  /** More fields of the error body beside code and message (a 409 slot_held carries the current hold). */
  details?: Record<string, unknown>;
  /** For failures that are not the client's: the constant log message the agent logs them with. */
  log?: string;
}

/** Any error class, whatever its constructor takes. */
type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

interface Mapping {
  class: ErrorClass<Error>;
  answer: (error: Error) => ErrorAnswer;
}

function map<E extends Error>(errorClass: ErrorClass<E>, answer: (error: E) => ErrorAnswer): Mapping {
  // Only called with an instance of errorClass (errorAnswer checks it first).
  return { class: errorClass, answer: (error) => answer(error as E) };
}

/** An answer with one of the API's codes, at that code's status (api/error-codes.ts). */
function coded(code: ApiErrorCode, message: string, extra: Pick<ErrorAnswer, 'details' | 'log'> = {}): ErrorAnswer {
  return { status: API_ERRORS[code].status, code, message, ...extra };
}

/** The JSON API's words for replacing a hold; the status page's form names its checkbox instead. */
export const REPLACE_HOLD_HINT = 'send "replace": true to replace it';

/** Error class → answer, first match wins (no class here extends another, so the order does not matter). */
export const ERROR_TABLE: readonly Mapping[] = [
  // The HTTP layer's own refusals (bad JSON, a token, an unknown slot name) carry their answer.
  map(HttpError, (e) => ({
    status: e.status,
    code: e.code,
    message: e.message,
    ...(e.details === undefined ? {} : { details: e.details }),
  })),
  // hono's own (its body parsers); under 500 it is the request's fault.
  map(HTTPException, (e) => ({
    status: e.status,
    code: e.status < 500 ? 'bad_request' : 'internal',
    message: e.message,
  })),
  map(JobNotFoundError, (e) => coded('job_not_found', e.message)),
  map(JobDoneError, (e) => coded('job_done', e.message)),
  map(UnknownTargetError, (e) => coded('unknown_target', e.message)),
  map(JobRefusedError, (e) => coded('invalid_request', `${e.field}: ${e.message}`)),
  map(InputTooLargeError, (e) => coded('input_too_large', e.message)),
  map(ArchiveError, (e) => coded('bad_archive', e.message)),
  map(SlotHeldError, (e) =>
    coded('slot_held', `${e.message}; ${REPLACE_HOLD_HINT}`, { details: { hold: holdView(e.hold) } }),
  ),
  map(NotHeldError, (e) => coded('not_held', e.message)),
  map(SlotNotFoundError, (e) => coded('slot_not_found', e.message)),
  // A job for a held slot: the same code and hold as a second hold, worded for a job.
  map(HeldSlotRefusedError, (e) => coded('slot_held', e.message, { details: { hold: holdView(e.hold) } })),
  map(UnknownPowerDeviceError, (e) => coded('power_device_not_found', e.message)),
  map(ForeignPowerDeviceError, (e) => coded('power_device_forbidden', e.message)),
  map(NoPowerDeviceError, (e) => coded('no_power_device', e.message)),
  // Not the client's fault and not the agent's bug: the outlet's driver said no (logged where it failed).
  map(PowerSwitchError, (e) => coded('power_failed', e.message)),
  map(LabUnavailableError, (e) => coded('lab_unavailable', e.message)),
  map(HostOfflineError, (e) => coded('host_offline', e.message)),
  // A front door that proxies to the host running a job, and that host did not answer (logged: the lab may be split).
  map(PeerUnreachableError, (e) => coded('peer_unreachable', e.message, { log: 'peer agent unreachable' })),
];

/**
 * Host conditions recognised anywhere in an error's cause chain, whatever its
 * class (a SQLite error, an ENOSPC from a write): not the agent's bug, so not a 500.
 */
const CONDITIONS: readonly { is: (error: unknown) => boolean; answer: ErrorAnswer }[] = [
  {
    is: isDiskFull,
    answer: coded(
      'disk_full',
      "the agent's state directory is full; the request was not done; retry once space is freed",
      { log: 'request failed: the state directory is full' },
    ),
  },
  {
    is: isDatabaseUnreadable,
    answer: coded(
      'database_unreadable',
      'the agent cannot read its database (damaged or failing storage); the agent log has the details, and a restart checks the file',
      {
        log: 'request failed: the database cannot be read',
      },
    ),
  },
];

const INTERNAL = coded('internal', 'internal error; the agent log has the details', { log: 'request failed' });

/** The answer to a request that failed with `error`. */
export function errorAnswer(error: unknown): ErrorAnswer {
  for (const mapping of ERROR_TABLE) if (error instanceof mapping.class) return mapping.answer(error);
  return CONDITIONS.find((condition) => condition.is(error))?.answer ?? INTERNAL;
}
