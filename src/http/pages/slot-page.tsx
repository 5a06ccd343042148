// GET /slots/:name: one slot's hold, devices with their last 24 h of checks,
// its recent events and jobs. Job commands and environments are left out on
// purpose: this page is open on loopback, where jobs of other slots run.
import type { FC } from 'hono/jsx';
import type { EventView } from '../../api/event.js';
import type { StoredResult } from '../../db/check-history.js';
import type { JobView } from '../../api/job.js';
import type { SlotView } from '../../api/slot.js';
import { HealthTimeline } from './health-timeline.js';
import { ago, clock, roughDuration } from './page-format.js';
import { HealthBadge, HoldText, LastResult, troubleClass, unavailableText, UsageText } from './slot-bits.js';

export interface DeviceTimeline {
  device: string;
  kind: string;
  results: readonly StoredResult[];
  timeoutMs: number;
}

export interface SlotPageProps {
  slot: SlotView;
  /** Per device of the slot, in its order: its last 24 h of results and its own check timeout (the top of its scale). */
  timelines: readonly DeviceTimeline[];
  events: readonly EventView[];
  jobs: readonly JobView[];
  now: number;
  historyKept: number;
  notice: string | null;
  /** The slot's power devices: with any, the page offers the power form. */
  outlets: readonly string[];
}

export const SlotPage: FC<SlotPageProps> = ({ slot, timelines, events, jobs, now, historyKept, notice, outlets }) => (
  <>
    <h2 style="margin-top:0">
      {slot.name} <span class="muted">· target {slot.target}</span> <HealthBadge health={slot.health} />
    </h2>
    {slot.description === null ? null : <p class="muted">{slot.description}</p>}
    {notice === null ? null : (
      <p class="banner ok" role="status">
        {notice}
      </p>
    )}
    <table>
      <tbody>
        <tr class={troubleClass(slot)}>
          <th>usage</th>
          <td>
            <UsageText slot={slot} now={now} />
          </td>
          <th>hold</th>
          <td id="hold">
            {slot.hold === null ? (
              <>
                <span class="muted">not held</span>{' '}
                <a class="button" href={`/slots/${slot.name}/hold`}>
                  Hold…
                </a>
              </>
            ) : (
              <>
                <HoldText hold={slot.hold} now={now} />{' '}
                <a class="button" href={`/slots/${slot.name}/release`}>
                  Release…
                </a>{' '}
                <a class="button" href={`/slots/${slot.name}/hold`}>
                  Replace hold…
                </a>
              </>
            )}
          </td>
        </tr>
        <tr>
          <th>available</th>
          <td>{slot.unavailable === null ? 'yes' : `no: ${unavailableText(slot.unavailable)}`}</td>
          <th>conflicts</th>
          <td>{slot.conflicts_with.length === 0 ? <span class="muted">none</span> : slot.conflicts_with.join(', ')}</td>
        </tr>
        {outlets.length === 0 ? null : (
          <tr>
            <th>power</th>
            <td id="power" colspan={3}>
              {outlets.join(', ')}{' '}
              <a class="button" href={`/slots/${slot.name}/power`}>
                Power…
              </a>
            </td>
          </tr>
        )}
      </tbody>
    </table>

    <h2>Devices</h2>
    <table id="devices">
      <thead>
        <tr>
          <th>device</th>
          <th>health</th>
          <th>last check</th>
        </tr>
      </thead>
      <tbody>
        {slot.devices.map((d) => (
          <tr class={d.health === 'unhealthy' ? 'unhealthy' : ''} data-device={d.name}>
            <td>
              <strong>{d.name}</strong> <span class="muted">{d.kind}</span>
              <br />
              <small>{d.summary}</small>
              {d.shared_with.length === 0 ? null : (
                <>
                  <br />
                  <small>shared with {d.shared_with.join(', ')}</small>
                </>
              )}
            </td>
            <td>
              <HealthBadge health={d.health} />
              <br />
              <small title={d.health_since === null ? undefined : clock(d.health_since)}>
                since {ago(d.health_since, now)}
              </small>
              <br />
              <small>
                {d.total_failures} of {d.total_checks} failed
              </small>
            </td>
            <td>
              <LastResult device={d} now={now} />
              {d.last_check?.detail == null ? null : (
                <>
                  <br />
                  <small>{d.last_check.detail}</small>
                </>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>

    <h2>Last 24 hours</h2>
    <div id="timelines">
      {timelines.map((t) => (
        <figure class="timeline">
          <figcaption>
            <strong>{t.device}</strong> <span class="muted">{t.kind}</span>
          </figcaption>
          <HealthTimeline device={t.device} results={t.results} now={now} timeoutMs={t.timeoutMs} />
        </figure>
      ))}
    </div>
    <p class="muted">
      Latency (blue, log scale) is the slowest check per 5 minutes; the band below is green when they all passed, red
      when any failed. Each device keeps its newest {historyKept} results ([health] history).
    </p>

    <h2>Recent jobs</h2>
    {jobs.length === 0 ? (
      <p class="muted">No jobs have run on this slot.</p>
    ) : (
      <table id="jobs">
        <thead>
          <tr>
            <th>job</th>
            <th>state</th>
            <th>outcome</th>
            <th>submitted</th>
            <th class="num">ran for</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr class={job.infrastructure ? 'unhealthy' : ''}>
              <td>
                <code>{job.id}</code>
              </td>
              <td>{job.state}</td>
              <td>{outcome(job)}</td>
              <td title={clock(job.submitted_at)}>{ago(job.submitted_at, now)}</td>
              <td class="num">
                {job.started_at === null
                  ? '—'
                  : roughDuration(
                      (job.ended_at === null ? now : Date.parse(job.ended_at)) - Date.parse(job.started_at),
                    )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}

    <h2>Events</h2>
    <table id="events">
      <thead>
        <tr>
          <th>when</th>
          <th>event</th>
          <th>what</th>
          <th>who</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td title={clock(e.at)}>{ago(e.at, now)}</td>
            <td>
              <code>{e.type}</code>
            </td>
            <td>{e.message}</td>
            <td>{e.actor ?? ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </>
);

function outcome(job: JobView): string {
  if (job.ended_by === null) return job.waiting ?? '';
  const code = job.ended_by === 'exit' && job.exit_code !== null ? `exit ${job.exit_code}` : job.ended_by;
  return job.end_reason === null ? code : `${code}: ${job.end_reason}`;
}
