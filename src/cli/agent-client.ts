// How client commands reach the agent (DESIGN §4): --url, then $LABSLOT_URL,
// then the config's `listen`; the token from --token or $LABSLOT_TOKEN.
// Every failure becomes one line for the operator, never a stack trace.
//
// Every labslot call in a job script loads this module, so it imports only
// what a request needs; the config loader (zod, TOML) is loaded only when the
// URL has to come from a config file.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { exitCodeForRefusal } from '../api/error-codes.js';
import { agentUrl } from '../http/agent-url.js';
import { withArticle } from '../words.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { exchange, ExchangeFailure } from './http-exchange.js';

export interface ClientOptions {
  url?: string;
  token?: string;
  config?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--url <url>', "agent URL (default: $LABSLOT_URL, then the config's listen address)")
    .option('--token <token>', 'bearer token (default: $LABSLOT_TOKEN)')
    .option('-c, --config <file>', 'slots.toml to take the listen address from');
}

/**
 * A failed exchange with the agent. `status` is undefined when no answer came
 * at all, so callers that retry (following job output) can tell "the agent is
 * unreachable or broken" (worth retrying) from "the agent said no" (it will
 * say no again).
 */
export class AgentError extends CliError {
  constructor(
    message: string,
    exitCode: number,
    readonly status: number | undefined,
    options?: ErrorOptions,
    /** The agent's error object when it refused (`code`, `message`, and fields such as a 409's `hold`). */
    readonly refusal?: { code?: string; message?: string; [field: string]: unknown },
  ) {
    super(message, exitCode, options);
  }

  get retryable(): boolean {
    return this.status === undefined || this.status >= 500;
  }
}

export class AgentClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  static async from(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): Promise<AgentClient> {
    // `--token ""` is no token, as an empty $LABSLOT_TOKEN is: the agent would only see "Bearer ".
    return new AgentClient(
      await resolveUrl(options, env),
      (options.token || undefined) ?? (env['LABSLOT_TOKEN'] || undefined),
    );
  }

  async request<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    timeoutMs = 60_000,
    signal?: AbortSignal,
  ): Promise<T> {
    const headers = this.headers('application/json');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout(timeoutMs);
    let answer: { status: number; text: string };
    try {
      answer = await exchange(new URL(path, this.baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      // An abort we asked for is not the agent's failure; let the caller see its own reason.
      if (signal?.aborted === true) throw error;
      const lost = error instanceof ExchangeFailure && error.answered;
      const why = timeout.aborted
        ? `no answer within ${timeoutMs / 1000} s`
        : describeFetchFailure(error instanceof ExchangeFailure ? error.cause : error);
      throw new AgentError(
        `${lost ? 'lost the connection to' : 'cannot reach'} the agent at ${this.baseUrl}: ${why}`,
        EXIT_FAILURE,
        undefined,
        { cause: error },
      );
    }
    return this.parse(answer.status, answer.text) as T;
  }

  /**
   * GET a streamed body (job output). Resolves once the headers are in with a
   * 2xx Response whose body the caller reads; errors as request(). No timeout of
   * its own: a follow stream is legitimately silent while a job is quiet, so the
   * caller's signal bounds it (and undici's own header/body timeouts end a dead
   * connection, which the caller treats as a break).
   */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    const response = await this.fetch(path, { method: 'GET', headers: this.headers('text/plain'), signal });
    if (response.ok) return response;
    const text = await response.text().catch(() => '');
    throw this.refusal(response.status, parseOrUndefined(text));
  }

  /** PUT a streamed body (an input archive); answers as request(). */
  async upload<T>(
    path: string,
    body: ReadableStream<Uint8Array>,
    contentType: string,
    timeoutMs = 600_000,
  ): Promise<T> {
    const headers = { ...this.headers('application/json'), 'content-type': contentType };
    const init = {
      method: 'PUT',
      headers,
      body,
      duplex: 'half',
      signal: AbortSignal.timeout(timeoutMs),
    } as RequestInit;
    return this.answer<T>(await this.fetch(path, init, timeoutMs), timeoutMs);
  }

  /** The JSON of a fetched answer, as parse(); a connection dropped while reading it is an error too. */
  private async answer<T>(response: Response, timeoutMs: number): Promise<T> {
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new AgentError(
        `lost the connection to the agent at ${this.baseUrl}: ${describeFetchFailure(error, timeoutMs)}`,
        EXIT_FAILURE,
        undefined,
        { cause: error },
      );
    }
    return this.parse(response.status, text) as T;
  }

  /** The JSON of an answer, or the agent's refusal as an error; an answer that is not JSON is one too. */
  private parse(status: number, text: string): unknown {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AgentError(
        `the agent at ${this.baseUrl} answered ${status} with something that is not JSON`,
        EXIT_FAILURE,
        status,
      );
    }
    if (status < 200 || status > 299) throw this.refusal(status, json);
    return json;
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    return headers;
  }

  private async fetch(path: string, init: RequestInit, timeoutMs?: number): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), init);
    } catch (error) {
      // An abort we asked for is not the agent's failure; let the caller see its own reason.
      if (init.signal?.aborted === true && (error as Error).name !== 'TimeoutError') throw error;
      throw new AgentError(
        `cannot reach the agent at ${this.baseUrl}: ${describeFetchFailure(error, timeoutMs)}`,
        EXIT_FAILURE,
        undefined,
        { cause: error },
      );
    }
  }

  private refusal(status: number, json: unknown): AgentError {
    const error = (json as { error?: { code?: string; message?: string; needs?: unknown } } | undefined)?.error;
    const message =
      status === 401 && this.token === undefined ? noToken(error?.needs) : (error?.message ?? `HTTP ${status}`);
    return new AgentError(message, exitCodeForRefusal(status, error?.code), status, undefined, error);
  }
}

/** The agent's 401 is worded for HTTP ("send Authorization: Bearer"); a command line has --token. */
function noToken(needs: unknown): string {
  const roles = Array.isArray(needs) ? needs.filter((r): r is string => typeof r === 'string') : [];
  return `no token: pass --token or set LABSLOT_TOKEN${roles.length > 0 ? ` to ${roles.map(withArticle).join(' or ')} token` : ''}`;
}

/**
 * Why a request failed, in the words an operator needs: fetch's TypeError says
 * only "fetch failed" and keeps the socket error as its cause; node:http's
 * error is the socket error itself.
 */
/** Why a request got no answer, in an operator's words (the system's code in brackets, for a search). */
const CONNECTION_FAILURES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the agent running?)',
  ECONNRESET: 'the connection was closed without an answer (ECONNRESET)',
  UND_ERR_SOCKET: 'the connection was closed without a complete answer',
  EPIPE: 'the connection was closed while the request was sent (EPIPE)',
  ETIMEDOUT: 'the connection timed out (ETIMEDOUT)',
  EHOSTUNREACH: "no route to the agent's host (EHOSTUNREACH)",
  ENETUNREACH: "no route to the agent's network (ENETUNREACH)",
  ENOTFOUND: 'its host name does not resolve (ENOTFOUND)',
  EAI_AGAIN: 'its host name could not be resolved now (EAI_AGAIN)',
};

export function describeFetchFailure(error: unknown, timeoutMs?: number): string {
  const { cause, code } = error as { cause?: { code?: string; message?: string }; code?: string };
  if ((error as Error).name === 'TimeoutError' && timeoutMs !== undefined)
    return `no answer within ${timeoutMs / 1000} s`;
  const known = CONNECTION_FAILURES[cause?.code ?? code ?? ''];
  if (known !== undefined) return known;
  return cause?.code ?? cause?.message ?? code ?? (error as Error).message;
}

async function resolveUrl(options: ClientOptions, env: NodeJS.ProcessEnv): Promise<string> {
  const explicit = options.url ?? (env['LABSLOT_URL'] || undefined);
  if (explicit !== undefined) {
    try {
      return new URL(explicit).toString();
    } catch {
      throw new CliError(`"${explicit}" is not a URL (e.g. http://127.0.0.1:8421)`, EXIT_USAGE);
    }
  }
  const [{ configPathFrom }, { loadLabConfig }] = await Promise.all([
    import('../config/load-config.js'),
    import('../devices/load-lab-config.js'),
  ]);
  const file = configPathFrom(options.config, env);
  if (options.config === undefined && !existsSync(file)) {
    throw new CliError(
      `no agent to talk to: pass --url, set LABSLOT_URL, or point -c at the agent's config (${file} does not exist)`,
      EXIT_USAGE,
    );
  }
  const { host, port } = loadLabConfig(file).listen;
  return agentUrl(host, port);
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
