// What a lab of many hosts asks of the agent's own listener (DESIGN §7):
// tokens cross the network between hosts, so they never do in clear unless an
// operator opts out in words that say what that means.
import type { RawIssue as Issue } from './device-rules.js';
import { isLoopback } from './loopback.js';
import type { Config } from './schema.js';

export function labTransportIssues(config: Config): Issue[] {
  const lab = config.lab;
  if (lab === undefined) return [];
  const { listen, tls, url } = config.agent;
  const issues: Issue[] = [];
  if (tls === undefined && !isLoopback(listen.host) && !lab.insecure_plain_http_sends_tokens_in_clear)
    issues.push({
      path: ['agent', 'listen'],
      message:
        `a lab agent listening on ${listen.host} (not loopback) would take tokens over plain HTTP: ` +
        'set [agent] tls = { cert = "...", key = "..." }, or, on a network you trust, ' +
        '[lab] insecure_plain_http_sends_tokens_in_clear = true',
    });
  // Other hosts send tokens to the advertised URL: plain HTTP off this machine is the same risk as the listen's.
  if (
    url !== undefined &&
    url.startsWith('http:') &&
    !isLoopback(new URL(url).hostname.replace(/^\[|\]$/g, '')) &&
    !lab.insecure_plain_http_sends_tokens_in_clear
  )
    issues.push({
      path: ['agent', 'url'],
      message:
        "is plain http:// to another machine: the lab's other agents would send tokens to it in clear. Use https:// " +
        'with [agent] tls, or, on a network you trust, [lab] insecure_plain_http_sends_tokens_in_clear = true',
    });
  if (url !== undefined && url.startsWith('http:') && tls !== undefined)
    issues.push({ path: ['agent', 'url'], message: 'is http:// but [agent] tls serves HTTPS: use https://' });
  if (url !== undefined && url.startsWith('https:') && tls === undefined)
    issues.push({ path: ['agent', 'url'], message: 'is https:// but this agent serves plain HTTP: set [agent] tls' });
  if (url === undefined && (listen.host === '0.0.0.0' || listen.host === '::'))
    issues.push({
      path: ['agent', 'url'],
      message: `is required in a lab when listen is ${listen.host}: the URL other hosts reach this agent at`,
    });
  return issues;
}
