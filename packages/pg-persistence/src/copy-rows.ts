// Large batches go to the server with COPY ... FROM STDIN: for 100,000 rows in one transaction
// it took 0.6 s where 5000-row unnest INSERTs took 0.95 s (the rows' JSON is sent as it is,
// not escaped into an array literal that the server parses again). The binary format spares the
// server parsing each row's text (seq, time, the escapes of the JSON) and this side escaping it.
// pg has no COPY API of its own; this is the "submittable" it runs for pg-copy-streams and
// pg-cursor, without streams.
import type pg from 'pg';
import { jsonbSubstitute } from './storable.js';

/** What a row of the records table is made from: its JSON line and its time (epoch ms). */
export interface CopyRow {
  line: string;
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
export function copyable(rows: readonly CopyRow[]): boolean {
  for (const { time } of rows) {
    if (time === null) continue;
    if (!Number.isInteger(time) || Math.abs(time - POSTGRES_EPOCH_MS) >= EXACT_SPAN_MS)
      return false;
  }
  return true;
}

/**
 * The COPY data goes to the server in messages of about this many bytes, each sent as soon as it
 * is encoded (the server parses one while the next is encoded), with a turn of the event loop
 * between them so that a large batch does not hold up the application.
 */
const MESSAGE_BYTES = 1 << 20;
/** A CopyData message: its type byte and its length (which counts itself, not the type). */
const COPY_DATA = 0x64;
const HEADER_BYTES = 5;
/** The most UTF-8 bytes a JavaScript string takes per UTF-16 code unit. */
const UTF8_PER_UNIT = 3;
/**
 * A row's bytes besides its session id and JSON (field count, lengths, seq, jsonb version, time),
 * and room for the data's trailer after the last row.
 */
const ROW_OVERHEAD = 2 + 5 * 4 + 8 + 1 + 8 + 2;
/** COPY's binary format: its signature, flags and header extension length; its end. */
const SIGNATURE = Buffer.from([
  ...Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
  ...[0, 0, 0, 0],
  ...[0, 0, 0, 0],
]);
const FIELDS = 5;
const NULL_FIELD = -1;
const TRAILER = -1;
/** jsonb's binary input: a version byte, then the JSON text. */
const JSONB_VERSION = 1;
const TWO_32 = 2 ** 32;

/** Writes a 64-bit integer (a safe JavaScript integer) big-endian; answers the next offset. */
function writeInt64(buffer: Buffer, value: number, at: number): number {
  const high = Math.floor(value / TWO_32);
  buffer.writeInt32BE(high, at);
  buffer.writeUInt32BE(value - high * TWO_32, at + 4);
  return at + 8;
}

/**
 * Encodes rows straight into CopyData messages in COPY's binary format: each field is written
 * into the message's buffer as it is (no escaping of the JSON, no text of the seq or the time
 * for the server to parse again; no message text built, encoded, then copied by pg's
 * serialiser). Yields each message when it holds `MESSAGE_BYTES` or the rows end.
 */
function* copyMessages(
  sessionId: string,
  firstSeq: number,
  rows: readonly CopyRow[],
): Generator<Buffer> {
  const session = Buffer.from(sessionId, 'utf8');
  let message = Buffer.allocUnsafe(HEADER_BYTES + MESSAGE_BYTES + MESSAGE_BYTES / 2);
  let end = HEADER_BYTES + SIGNATURE.copy(message, HEADER_BYTES);
  for (let i = 0; i < rows.length; i++) {
    const { line, time } = rows[i] as CopyRow;
    const nulFree = jsonbSubstitute(line);
    const most =
      session.length +
      ROW_OVERHEAD +
      UTF8_PER_UNIT * (line.length + (nulFree === null ? 0 : nulFree.length));
    if (end + most > message.length) {
      if (end > HEADER_BYTES) yield finish(message, end);
      message = Buffer.allocUnsafe(
        HEADER_BYTES + Math.max(MESSAGE_BYTES + MESSAGE_BYTES / 2, most),
      );
      end = HEADER_BYTES;
    }
    end = message.writeInt16BE(FIELDS, end);
    end = message.writeInt32BE(session.length, end);
    end += session.copy(message, end);
    end = message.writeInt32BE(8, end);
    end = writeInt64(message, firstSeq + i, end);
    // record (jsonb): the line, or with U+FFFD for its U+0000; record_json: the exact line then.
    const jsonb = nulFree ?? line;
    let length = message.write(jsonb, end + 5, 'utf8');
    message.writeInt32BE(length + 1, end);
    message[end + 4] = JSONB_VERSION;
    end += 5 + length;
    if (nulFree === null) {
      end = message.writeInt32BE(NULL_FIELD, end);
    } else {
      length = message.write(line, end + 4, 'utf8');
      message.writeInt32BE(length, end);
      end += 4 + length;
    }
    if (time === null) {
      end = message.writeInt32BE(NULL_FIELD, end);
    } else {
      // Microseconds from 2000-01-01; exact, as `copyable` allows whole milliseconds only.
      end = message.writeInt32BE(8, end);
      end = writeInt64(message, (time - POSTGRES_EPOCH_MS) * 1000, end);
    }
    if (end - HEADER_BYTES >= MESSAGE_BYTES) {
      yield finish(message, end);
      message = Buffer.allocUnsafe(HEADER_BYTES + MESSAGE_BYTES + MESSAGE_BYTES / 2);
      end = HEADER_BYTES;
    }
  }
  end = message.writeInt16BE(TRAILER, end);
  yield finish(message, end);
}

/** The message's header, and the message cut to its length. */
function finish(message: Buffer, end: number): Buffer {
  message[0] = COPY_DATA;
  message.writeInt32BE(end - 1, 1);
  return message.subarray(0, end);
}

/** Sends the rows' CopyData messages, each when the one before it is handed to the socket. */
class CopySender {
  #failed = false;
  /** Ends a wait for the socket to drain (a failure ends the copy). */
  #wake = () => {};

  /** The COPY failed (or the connection did): stop sending. */
  stop(): void {
    this.#failed = true;
    this.#wake();
  }

  /** Sends every message; false when stopped before the last. */
  async send(connection: CopyConnection, messages: Iterable<Buffer>): Promise<boolean> {
    const socket = connection.stream;
    for (const message of messages) {
      if (this.#failed) return false;
      if (socket === undefined) {
        connection.sendCopyFromChunk(message.subarray(HEADER_BYTES));
      } else if (socket.writable && !socket.write(message)) {
        // The server reads slower than this encodes: wait, rather than hold the whole batch.
        await new Promise<void>((drained) => {
          this.#wake = drained;
          socket.once('drain', drained);
        });
        socket.off('drain', this.#wake);
        continue;
      }
      await new Promise<void>((next) => setImmediate(next));
    }
    return !this.#failed;
  }
}

/** The text COPY FROM STDIN of the records table's columns. */
const copyText = (table: string) =>
  `COPY ${table} (session_id, seq, record, record_json, time) FROM STDIN (FORMAT binary)`;

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
  return new Promise<void>((resolve, reject) => {
    let failure: unknown = null;
    const sender = new CopySender();
    const copy = {
      text: copyText(table),
      submit(connection: CopyConnection) {
        connection.query(copy.text);
      },
      handleCopyInResponse(connection: CopyConnection) {
        sender.send(connection, copyMessages(sessionId, firstSeq, rows)).then(
          (sent) => {
            if (sent) connection.endCopyFrom();
          },
          (error: unknown) => {
            // Encoding failed (a buffer could not be had): end the COPY; its error settles this.
            connection.sendCopyFail(`agent-records could not encode the rows: ${String(error)}`);
          },
        );
      },
      handleCommandComplete() {},
      handleReadyForQuery() {
        if (failure === null) resolve();
        else reject(failure);
      },
      handleError(error: unknown) {
        // A server error is followed by ReadyForQuery; a lost connection by nothing more.
        failure = error;
        sender.stop();
        reject(error);
      },
    };
    (client as unknown as { query(submittable: typeof copy): void }).query(copy);
  });
}

/** A batch of appends for `copyBatch`: the fence statement and its values, and the rows. */
export interface CopyBatch {
  /** The fence (`moveHead`): moves the head, answers one row (the generation) when it did. */
  fence: string;
  fenceValues: readonly unknown[];
  table: string;
  sessionId: string;
  firstSeq: number;
  rows: readonly CopyRow[];
}

/**
 * A batch of appends in one transaction sent in one go, with no wait for the server between its
 * statements (the server is not left idle for a round trip each): BEGIN, the fence, COPY, the
 * rows, COMMIT, in the extended protocol with one Sync at the end. The rows follow once the
 * server asks for them and the fence has answered: when it moved nothing (another writer moved
 * the session) the COPY is failed, so nothing is written. Answers the generation, or null when
 * the fence refused the batch; the transaction is then aborted and the caller rolls it back, as
 * it does when this rejects with the server's error. Rejects with the connection's error too.
 */
export function copyBatch(client: pg.PoolClient, batch: CopyBatch): Promise<number | null> {
  return new Promise<number | null>((resolve, reject) => {
    let generation: number | null = null;
    let refused = false;
    let synced = false;
    let failure: unknown = null;
    const sender = new CopySender();
    const statement = (connection: CopyConnection, text: string, values: unknown[] = []) => {
      connection.parse({ text });
      connection.bind({ values: values.map((value) => (value === null ? null : String(value))) });
      connection.execute({});
    };
    const sync = (connection: CopyConnection) => {
      if (synced) return;
      synced = true;
      connection.sync();
    };
    const copy = {
      text: `BEGIN; ${copyText(batch.table)}; COMMIT`,
      submit(connection: CopyConnection) {
        statement(connection, 'BEGIN');
        statement(connection, batch.fence, [...batch.fenceValues]);
        statement(connection, copyText(batch.table));
      },
      handleDataRow(row: { fields: Array<string | null> }) {
        generation = Number(row.fields[0]);
      },
      handleCopyInResponse(connection: CopyConnection) {
        if (generation === null) {
          // The fence moved nothing: fail the COPY, and with it the transaction.
          refused = true;
          connection.sendCopyFail('agent-records: the session was moved by another writer');
          sync(connection);
          return;
        }
        const { sessionId, firstSeq, rows } = batch;
        sender.send(connection, copyMessages(sessionId, firstSeq, rows)).then(
          (sent) => {
            if (!sent) return;
            connection.endCopyFrom();
            statement(connection, 'COMMIT');
            sync(connection);
          },
          (error: unknown) => {
            connection.sendCopyFail(`agent-records could not encode the rows: ${String(error)}`);
            sync(connection);
          },
        );
      },
      handleRowDescription() {},
      handleCommandComplete() {},
      handleEmptyQuery() {},
      handleReadyForQuery() {
        if (failure === null) resolve(generation);
        else reject(failure);
      },
      handleError(error: unknown, connection?: CopyConnection) {
        sender.stop();
        // The server skips what follows an error up to the Sync; it answers that with
        // ReadyForQuery (which pg no longer hands here). A lost connection answers nothing.
        if (connection !== undefined) sync(connection);
        if (refused) resolve(null);
        else {
          failure = error;
          reject(error);
        }
      },
    };
    (client as unknown as { query(submittable: typeof copy): void }).query(copy);
  });
}

/** The parts of pg's connection a submittable uses for COPY FROM. */
interface CopyConnection {
  /** The socket: whole CopyData messages are written to it (pg would copy each once more). */
  stream?: {
    writable: boolean;
    write(message: Buffer): boolean;
    once(event: 'drain', listener: () => void): void;
    off(event: 'drain', listener: () => void): void;
  };
  query(text: string): void;
  parse(statement: { text: string }): void;
  bind(portal: { values: Array<string | null> }): void;
  execute(portal: Record<string, never>): void;
  sync(): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
}
