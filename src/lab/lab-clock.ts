// PostgreSQL's clock in milliseconds: heartbeats and "offline" are compared on
// one clock, the database's, so the hosts' own clocks need not agree.
import { sql } from 'drizzle-orm';

// bigint comes back from pg as a string: mapped to a number (milliseconds fit a double for 285,000 years).
export const DB_NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`.mapWith(Number);
