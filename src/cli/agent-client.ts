// How client commands reach the agent (DESIGN §4): --url, then $LABSLOT_URL,
// then the config's `listen`; the token from --token or $LABSLOT_TOKEN.
// Every failure becomes one line for the operator, never a stack trace.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { configPathFrom, loadConfig } from '../config/load-config.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE } from './exit-codes.js';

export interface ClientOptions {
  url?: string;
  token?: string;
  config?: string;
}

export function addClientOptions(command: Command): Command {
  return command
    .option('--url <url>', 'agent URL (default: $LABSLOT_URL, then the config\'s listen address)')
    .option('--token <token>', 'bearer token (default: $LABSLOT_TOKEN)')
    .option('-c, --config <file>', 'slots.toml to take the listen address from');
}

export class AgentClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  static from(options: ClientOptions, env: NodeJS.ProcessEnv = process.env): AgentClient {
    return new AgentClient(resolveUrl(options, env), options.token ?? (env['LABSLOT_TOKEN'] || undefined));
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers['authorization'] = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why =
        (error as Error).name === 'TimeoutError'
          ? `no answer within ${timeoutMs / 1000} s`
          : cause?.code === 'ECONNREFUSED'
            ? 'connection refused (is the agent running?)'
            : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new CliError(`cannot reach the agent at ${this.baseUrl}: ${why}`, EXIT_FAILURE, { cause: error });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CliError(`the agent at ${this.baseUrl} answered ${response.status} with something that is not JSON`);
    }
    if (!response.ok) {
      const message = (json as { error?: { message?: string } }).error?.message ?? `HTTP ${response.status}`;
      const hint = response.status === 401 && this.token === undefined ? ' (set LABSLOT_TOKEN or pass --token)' : '';
      throw new CliError(`${message}${hint}`, response.status === 400 || response.status === 404 ? EXIT_USAGE : EXIT_FAILURE);
    }
    return json as T;
  }
}

function resolveUrl(options: ClientOptions, env: NodeJS.ProcessEnv): string {
  const explicit = options.url ?? (env['LABSLOT_URL'] || undefined);
  if (explicit !== undefined) {
    try {
      return new URL(explicit).toString();
    } catch {
      throw new CliError(`"${explicit}" is not a URL (e.g. http://127.0.0.1:8421)`, EXIT_USAGE);
    }
  }
  const file = configPathFrom(options.config, env);
  if (options.config === undefined && !existsSync(file)) {
    throw new CliError(`no agent to talk to: pass --url, set LABSLOT_URL, or point -c at the agent's config (${file} does not exist)`, EXIT_USAGE);
  }
  const { host, port } = loadConfig(file).listen;
  // An agent listening on every address is reached on loopback from its own host.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}/`;
}
