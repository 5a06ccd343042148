// TOML dates and times, kept distinct from strings. By default the parser
// returns local dates and times as plain strings, so `serial = 2024-01-01`
// would pass as the serial "2024-01-01"; parsed into this class instead, the
// schema rejects them and the message can say why.
import type { TemporalLike } from 'toml';

export class TomlDateTime {
  constructor(
    readonly kind: string,
    readonly text: string,
  ) {}
}

const marker = (kind: string): { from(item: string): TomlDateTime } => ({
  from: (text: string) => new TomlDateTime(kind, text),
});

/** A stand-in for the Temporal API that the parser calls for every date/time value. */
export const DATE_TIME_MARKERS: TemporalLike = {
  ZonedDateTime: marker('date-time'),
  PlainDateTime: marker('local date-time'),
  PlainDate: marker('local date'),
  PlainTime: marker('local time'),
};
