// JSON-lines logging. Messages are constant strings; values go in fields, so
// logs can be searched and counted ("slot held" with slot=gimlet-1).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(destination: NodeJS.WritableStream | number = 1): Logger {
  const level = process.env['LABSLOT_LOG_LEVEL'] ?? 'info';
  const stream = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino(
    {
      level,
      base: { service: 'labslot' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names rather than pino's numbers: operators read these with grep and jq.
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
