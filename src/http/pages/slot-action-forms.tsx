// The hold and release forms of the status page. Plain HTML forms: they work
// without JavaScript, and the operator token travels in the form body, never in
// a cookie, so another site cannot make a browser hold or release a slot.
import type { FC } from 'hono/jsx';
import type { SlotView } from '../../api/slot.js';
import { HoldText } from './slot-bits.js';

export type SlotAction = 'hold' | 'release';

export interface SlotActionFormProps {
  action: SlotAction;
  slot: SlotView;
  now: number;
  /** What was typed before a refusal, so nothing has to be typed twice. */
  values: { text: string; by: string };
  error: string | null;
}

export const SlotActionForm: FC<SlotActionFormProps> = ({ action, slot, now, values, error }) => (
  <>
    <h2 style="margin-top:0">
      {action === 'hold' ? 'Hold' : 'Release'} <a href={`/slots/${slot.name}`}>{slot.name}</a>
    </h2>
    {slot.hold === null ? (
      <p class="muted">Not held now.</p>
    ) : (
      <p>
        <HoldText hold={slot.hold} now={now} />
      </p>
    )}
    <p class="muted">
      {action === 'hold'
        ? 'A held slot gets no new jobs until an operator releases it. A job running on it now is not stopped.'
        : 'The slot is checked at once and takes jobs again when all its devices are healthy.'}
    </p>
    {error === null ? null : (
      <p class="banner bad" role="alert">
        {error}
      </p>
    )}
    <form class="action" method="post" action={`/slots/${slot.name}/${action}`}>
      {/* A user name field lets password managers file the token under "labslot operator". */}
      <input type="hidden" name="username" value="labslot-operator" autocomplete="username" />
      <label>
        {action === 'hold' ? 'Reason' : 'Note (optional)'}
        <textarea name="text" rows={3} maxlength={1000} required={action === 'hold'}>
          {values.text}
        </textarea>
      </label>
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
        <button type="submit">{action === 'hold' ? 'Hold slot' : 'Release slot'}</button>{' '}
        <a href={`/slots/${slot.name}`}>Cancel</a>
      </div>
    </form>
  </>
);
