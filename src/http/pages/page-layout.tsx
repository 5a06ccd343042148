// The frame of every status page: title, the agent's name and host health,
// and a meta refresh so a page left open on a lab monitor stays current
// without JavaScript. Form pages pass no refresh: it would wipe what is typed.
import type { Child, FC } from 'hono/jsx';
import { raw } from 'hono/html';
import type { HostView } from '../../api/host.js';
import { PAGE_CSS } from './page-style.js';

export interface LayoutProps {
  title: string;
  agent: string;
  version: string;
  host: HostView;
  /** Seconds between reloads and the address reloaded; absent on pages with a form. */
  refresh?: { seconds: number; url: string } | undefined;
  children?: Child;
}

export const Layout: FC<LayoutProps> = ({ title, agent, version, host, refresh, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      {refresh === undefined ? null : <meta http-equiv="refresh" content={`${refresh.seconds}; url=${refresh.url}`} />}
      <title>{`${title} · labslot ${agent}`}</title>
      <style>{raw(PAGE_CSS)}</style>
    </head>
    <body>
      <header>
        <h1>
          <a href="/">labslot · {agent}</a>
        </h1>
        <span class="muted">
          host{' '}
          {host.ok === true ? (
            <span class="healthy">healthy</span>
          ) : host.ok === false ? (
            <span class="unhealthy-text">unhealthy</span>
          ) : (
            <span class="unknown">not checked yet</span>
          )}
        </span>
        <span class="muted">
          <a href="/metrics">metrics</a> · <a href="/v1/slots">JSON</a> · v{version}
          {refresh === undefined ? null : ` · refreshes every ${refresh.seconds}s`}
        </span>
      </header>
      {host.ok === false ? (
        <p class="banner bad" role="alert">
          <strong>This host leases nothing:</strong> {host.reason}
        </p>
      ) : null}
      <main>{children}</main>
    </body>
  </html>
);
