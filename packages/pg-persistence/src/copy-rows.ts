// Large batches go to the server with COPY ... FROM STDIN: for 100,000 rows in one transaction
// it took 0.6 s where 5000-row unnest INSERTs took 0.95 s (the rows' JSON is sent as it is,
// not escaped into an array literal that the server parses again). pg has no COPY API of its
// own; this is the "submittable" it runs for pg-copy-streams and pg-cursor, without streams.
import type pg from 'pg';

/** What a row of the records table needs: its JSON text for jsonb, the exact JSON or null, time. */
export interface CopyRow {
  queryable: string;
  exact: string | null;
  time: number | null;
}

/**
 * The times (epoch ms) COPY sends as the INSERT stores them. The INSERT converts with
 * `to_timestamp(t / 1000)`: float8 seconds, moved to PostgreSQL's epoch (2000-01-01), then
 * rounded to the microsecond, which is exact only while they are within 2^32 s of 2000-01-01
 * (1863 to 2136). COPY's `Date#toISOString` is exact everywhere, but both paths must store the
 * same time, so a batch holding another takes the INSERT.
 */
const POSTGRES_EPOCH_MS = 946_684_800_000;
const EXACT_SPAN_MS = 2 ** 32 * 1000;

/**
 * True when COPY can send every row's time exactly as the INSERT would store it: none, or a
 * whole millisecond within `EXACT_SPAN_MS` of 2000-01-01. A batch holding another (a fraction of
 * a millisecond, a far year) takes the INSERT.
 */
export function copyable(times: ReadonlyArray<number | null>): boolean {
  for (const time of times) {
    if (time === null) continue;
    if (!Number.isInteger(time) || Math.abs(time - POSTGRES_EPOCH_MS) >= EXACT_SPAN_MS)
      return false;
  }
  return true;
}

/** COPY's text format: a backslash, tab, newline or carriage return in a field is escaped. */
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const field = (text: string) => text.replace(SPECIALS, (c) => ESCAPES[c] as string);
/**
 * A JSON text as a COPY field: JSON escapes every control character in its strings, so only its
 * backslashes need doubling (found with `indexOf`, much cheaper than a pattern on every line).
 */
const jsonField = (json: string) =>
  json.indexOf('\\') === -1 ? json : json.replaceAll('\\', '\\\\');

/** Rows per chunk of COPY data handed to the socket (about a megabyte of typical records). */
const ROWS_PER_CHUNK = 2000;

/**
 * Copies `rows` into `table` (`session_id, seq, record, record_json, time`) numbered from
 * `firstSeq`, on `client`, inside the caller's transaction. Rejects with the server's error
 * (the transaction is then aborted: the caller rolls back) or the connection's.
 */
export function copyRows(
  client: pg.PoolClient,
  table: string,
  sessionId: string,
  firstSeq: number,
  rows: readonly CopyRow[],
): Promise<void> {
  const session = field(sessionId);
  const chunks = function* () {
    for (let i = 0; i < rows.length; i += ROWS_PER_CHUNK) {
      let text = '';
      for (let j = i; j < Math.min(rows.length, i + ROWS_PER_CHUNK); j++) {
        const row = rows[j] as CopyRow;
        const exact = row.exact === null ? '\\N' : jsonField(row.exact);
        const time = row.time === null ? '\\N' : new Date(row.time).toISOString();
        text += `${session}\t${firstSeq + j}\t${jsonField(row.queryable)}\t${exact}\t${time}\n`;
      }
      yield Buffer.from(text, 'utf8');
    }
  };
  return new Promise<void>((resolve, reject) => {
    let failure: unknown = null;
    const copy = {
      text: `COPY ${table} (session_id, seq, record, record_json, time) FROM STDIN`,
      submit(connection: CopyConnection) {
        connection.query(copy.text);
      },
      handleCopyInResponse(connection: CopyConnection) {
        for (const chunk of chunks()) connection.sendCopyFromChunk(chunk);
        connection.endCopyFrom();
      },
      handleCommandComplete() {},
      handleReadyForQuery() {
        if (failure === null) resolve();
        else reject(failure);
      },
      handleError(error: unknown) {
        // A server error is followed by ReadyForQuery; a lost connection by nothing more.
        failure = error;
        reject(error);
      },
    };
    (client as unknown as { query(submittable: typeof copy): void }).query(copy);
  });
}

/** The parts of pg's connection a submittable uses for COPY FROM. */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}
