// How client commands reach the agent (DESIGN §4): --url, then $LABSLOT_URL,
// then the config's `listen`; the token from --token or $LABSLOT_TOKEN; over
// HTTPS, the CA from --cacert or $LABSLOT_CACERT (README "HTTPS between hosts
// and clients"). Every failure becomes one line for the operator, never a
// stack trace.
//
// Every labslot call in a job script loads this module, so it imports only
// what a request needs; the config loader (zod, TOML) is loaded only when the
// URL has to come from a config file.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { exitCodeForRefusal } from '../api/error-codes.js';
import { agentUrl } from '../http/agent-url.js';
import { describeConnectionFailure, isUntrustedCertificate } from '../http/connection-failure.js';
import { streamRequest, type StreamInit } from '../http/stream-request.js';
import type { TlsTrust } from '../http/tls-trust.js';
import { withArticle } from '../words.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';
import { exchange, ExchangeFailure } from './http-exchange.js';

export interface ClientOptions {
  url?: string;
  token?: string;
  config?: string;
  cacert?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--url <url>', "agent URL (default: $LABSLOT_URL, then the config's listen address)")
    .option('--token <token>', 'bearer token (default: $LABSLOT_TOKEN)')
    .option('--cacert <file>', "PEM CA that signed an https:// agent's certificate (default: $LABSLOT_CACERT)")
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
    /** For an https:// agent: the CA and certificate name to check it against (Node's default CAs, the URL's host otherwise). */
    private readonly trust: TlsTrust = {},
  ) {}

  static async from(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): Promise<AgentClient> {
    const { url, trust } = await resolveAgent(options, env);
    // `--token ""` is no token, as an empty $LABSLOT_TOKEN is: the agent would only see "Bearer ".
    return new AgentClient(url, (options.token || undefined) ?? (env['LABSLOT_TOKEN'] || undefined), trust);
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
      answer = await exchange(
        new URL(path, this.baseUrl),
        {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        },
        this.trust,
      );
    } catch (error) {
      // An abort we asked for is not the agent's failure; let the caller see its own reason.
      if (signal?.aborted === true) throw error;
      this.throwIfUntrusted(error instanceof ExchangeFailure ? error.cause : error);
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
   * caller's signal bounds it (and stream-request's 300 s idle timeout ends a
   * dead connection, which the caller treats as a break).
   */
  async stream(path: string, signal: AbortSignal): Promise<Response> {
    const response = await this.send(path, { method: 'GET', headers: this.headers('text/plain'), signal });
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
    const init: StreamInit = { method: 'PUT', headers, body, signal: AbortSignal.timeout(timeoutMs) };
    return this.answer<T>(await this.send(path, init, timeoutMs), timeoutMs);
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

  /** A request whose body streams, either way (node:https, so it takes the CA: http/stream-request.ts). */
  private async send(path: string, init: StreamInit, timeoutMs?: number): Promise<Response> {
    try {
      return await streamRequest(new URL(path, this.baseUrl), init, this.trust);
    } catch (error) {
      // An abort we asked for is not the agent's failure; let the caller see its own reason.
      if (init.signal.aborted && (error as Error).name !== 'TimeoutError') throw error;
      this.throwIfUntrusted(error);
      throw new AgentError(
        `cannot reach the agent at ${this.baseUrl}: ${describeFetchFailure(error, timeoutMs)}`,
        EXIT_FAILURE,
        undefined,
        { cause: error },
      );
    }
  }

  /**
   * A certificate this client does not trust: what to pass, in one line. A
   * CliError, not an AgentError: retrying (a follow stream does) cannot help.
   */
  private throwIfUntrusted(error: unknown): void {
    if (!isUntrustedCertificate(error)) return;
    throw new CliError(
      `cannot reach the agent at ${this.baseUrl}: ${describeConnectionFailure(error)}: ` +
        (this.trust.ca === undefined
          ? 'pass --cacert FILE or set LABSLOT_CACERT'
          : 'is --cacert the CA that signed it?'),
      EXIT_FAILURE,
      { cause: error },
    );
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

/** Why a request failed, in the words an operator needs (http/connection-failure.ts); a timeout as the caller's. */
export function describeFetchFailure(error: unknown, timeoutMs?: number): string {
  if ((error as Error).name === 'TimeoutError' && timeoutMs !== undefined)
    return `no answer within ${timeoutMs / 1000} s`;
  return describeConnectionFailure(error);
}

/**
 * The agent's URL and what to trust of its certificate. $LABSLOT_TLS_NAME
 * comes with $LABSLOT_URL in a job (jobs/job-tls.ts): the job reaches its agent
 * on loopback, and the certificate names the agent's advertised host.
 */
async function resolveAgent(options: ClientOptions, env: NodeJS.ProcessEnv): Promise<{ url: string; trust: TlsTrust }> {
  const cacert = options.cacert ?? (env['LABSLOT_CACERT'] || undefined);
  const ca =
    cacert === undefined
      ? undefined
      : await readCa(options.cacert === undefined ? 'LABSLOT_CACERT' : '--cacert', cacert);
  const explicit = options.url ?? (env['LABSLOT_URL'] || undefined);
  if (explicit !== undefined) {
    let url: string;
    try {
      url = new URL(explicit).toString();
    } catch {
      throw new CliError(`"${explicit}" is not a URL (e.g. http://127.0.0.1:8421)`, EXIT_USAGE);
    }
    const name = options.url === undefined ? env['LABSLOT_TLS_NAME'] || undefined : undefined;
    return { url, trust: { ...(ca === undefined ? {} : { ca }), ...(name === undefined ? {} : { name }) } };
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
  const lab = loadLabConfig(file);
  const { host, port } = lab.listen;
  const { advertisedName, readLabCa } = await import('../config/tls-files.js');
  // The agent's own config: its lab's CA, and the name it advertises (its certificate need not name its listen address).
  const own = ca ?? readLabCa(lab.config, lab.file);
  const name = advertisedName(lab.config);
  return {
    url: agentUrl(host, port, lab.config.agent.tls !== undefined),
    trust: { ...(own === undefined ? {} : { ca: own }), ...(name === undefined ? {} : { name }) },
  };
}

/** A CA file given to the client; one that cannot be used is a usage error naming it (TlsFileError, exit 2). */
async function readCa(key: string, file: string): Promise<string> {
  const [tlsFiles, path] = await Promise.all([import('../config/tls-files.js'), import('node:path')]);
  return tlsFiles.readCertificates(key, path.resolve(file));
}

function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
