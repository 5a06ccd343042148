// The hold, release and power forms of the status page. Plain HTML forms: they work
// without JavaScript, and the operator token travels in the form body, never in
// a cookie, so another site cannot make a browser hold or release a slot.
import type { FC } from 'hono/jsx';
import type { SlotView } from '../../api/slot.js';
import { HoldText } from './slot-bits.js';

export type SlotAction = 'hold' | 'release' | 'power';

const TITLES: Record<SlotAction, string> = { hold: 'Hold', release: 'Release', power: 'Power' };
const BUTTONS: Record<SlotAction, string> = { hold: 'Hold slot', release: 'Release slot', power: 'Switch power' };
const EXPLAINED: Record<SlotAction, string> = {
  hold: 'A held slot gets no new jobs until an operator releases it. A job running on it now is not stopped.',
  release: 'The slot is checked at once and takes jobs again when all its devices are healthy.',
  power:
    "Switches the slot's outlets through their power driver (pdudaemon only says it accepted the switch). A job running on the slot is not stopped.",
};

export interface SlotActionFormProps {
  action: SlotAction;
  slot: SlotView;
  now: number;
  /** What was typed before a refusal, so nothing has to be typed twice. */
  values: { text: string; by: string; power?: string; device?: string };
  /** The slot's power devices, for the power form. */
  outlets: readonly string[];
  error: string | null;
}

export const SlotActionForm: FC<SlotActionFormProps> = ({ action, slot, now, values, outlets, error }) => (
  <>
    <h2 style="margin-top:0">
      {TITLES[action]} <a href={`/slots/${slot.name}`}>{slot.name}</a>
    </h2>
    {slot.hold === null ? (
      <p class="muted">Not held now.</p>
    ) : (
      <p>
        <HoldText hold={slot.hold} now={now} />
      </p>
    )}
    <p class="muted">{EXPLAINED[action]}</p>
    {error === null ? null : (
      <p class="banner bad" role="alert">
        {error}
      </p>
    )}
    <form class="action" method="post" action={`/slots/${slot.name}/${action}`}>
      {/* A user name field lets password managers file the token under "labslot operator". */}
      <input type="hidden" name="username" value="labslot-operator" autocomplete="username" />
      {action === 'power' ? (
        <PowerFields outlets={outlets} power={values.power ?? ''} device={values.device ?? ''} />
      ) : (
        <label>
          {action === 'hold' ? 'Reason' : 'Note (optional)'}
          <textarea name="text" rows={3} maxlength={1000} required={action === 'hold'}>
            {values.text}
          </textarea>
        </label>
      )}
      <label>
        Your name (optional)
        <input name="by" value={values.by} maxlength={100} />
      </label>
      {/* Holding a held slot is refused unless the operator says they mean to replace the hold. */}
      {action === 'hold' && slot.hold !== null ? (
        <label class="check">
          <input type="checkbox" name="replace" /> Replace the current hold
        </label>
      ) : null}
      <label>
        Operator token
        <input type="password" name="token" required autocomplete="current-password" />
      </label>
      <div>
        <button type="submit">{BUTTONS[action]}</button> <a href={`/slots/${slot.name}`}>Cancel</a>
      </div>
    </form>
  </>
);

const PowerFields: FC<{ outlets: readonly string[]; power: string; device: string }> = ({ outlets, power, device }) => (
  <>
    <label>
      Switch
      <select name="power" required>
        {(['on', 'off', 'cycle'] as const).map((a) => (
          <option value={a} selected={power === a}>
            {a === 'cycle' ? 'cycle (off, then on)' : a}
          </option>
        ))}
      </select>
    </label>
    <label>
      Outlet
      <select name="device">
        <option value="" selected={device === ''}>
          all of the slot's ({outlets.join(', ')})
        </option>
        {outlets.map((name) => (
          <option value={name} selected={device === name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  </>
);
