import { randomUUID } from 'node:crypto';
import net from 'node:net';
import {
  type AgentRecordEnvelope,
  RecordsClosedError,
  RecordsOverflowError,
  RecordsWriteError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, DATABASE_URL, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

// close() releases what the persistence holds (its own pool) after one last flush attempt,
// whatever that attempt says; it then rejects with the reason.
type Rec = AgentRecordEnvelope & { n: number; text?: string };
const schema = schemaName();
const admin = newPool({ max: 2 });
afterAll(async () => {
  await admin.end();
  if (available) await dropSchema(schema);
});

async function storedNumbers(sessionId: string): Promise<number[]> {
  const { rows } = await admin.query<{ n: number }>(
    `SELECT (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((row) => row.n);
}

/** A TCP proxy in front of the real server that can be taken down (refusing connections) and up. */
async function downableServer() {
  const target = new URL(DATABASE_URL);
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let server: net.Server | null = null;
  let port = 0;
  const up = async () => {
    server = net.createServer((client) => {
      connections++;
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      for (const socket of [client, upstream]) {
        socket.on('error', () => {});
        socket.on('close', () => {
          sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => (server as net.Server).listen(port, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  };
  const down = async () => {
    const closing = new Promise<void>((resolve) => (server as net.Server).close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closing;
  };
  await up();
  const url = new URL(DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return { url: url.toString(), up, down, connections: () => connections };
}

describe.skipIf(!available)('close()', () => {
  it('close() releases its own pool when its final flush rejects with the overflow report', async () => {
    const sessionId = `close-overflow-${randomUUID()}`;
    const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, {
      connectionString: DATABASE_URL,
      schema,
      maxPendingBytes: 1000,
      onError: () => {},
    });
    persistence.append({ type: 'test', n: 0, text: 'x'.repeat(800) });
    expect(() => persistence.append({ type: 'test', n: 1, text: 'x'.repeat(800) })).toThrow(
      RecordsOverflowError,
    );
    await expect(persistence.close()).rejects.toBeInstanceOf(RecordsOverflowError);
    // Released: nothing can be read through the pool it ended.
    await expect(persistence.read()[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(
      RecordsClosedError,
    );
    // The report was delivered once; nothing is left to write.
    await expect(persistence.close()).resolves.toBeUndefined();
    expect(await storedNumbers(sessionId)).toEqual([0]);
  });

  it('close() during a failure episode (server down) releases its pool and rejects without hanging; a later close() retries', async () => {
    const server = await downableServer();
    const sessionId = `close-down-${randomUUID()}`;
    const persistence = new PostgresAgentRecordPersistence<Rec>(sessionId, {
      connectionString: server.url,
      schema,
      onError: () => {},
    });
    try {
      persistence.append({ type: 'test', n: 0 });
      await persistence.flush();
      await server.down();
      persistence.append({ type: 'test', n: 1 });
      await expect(persistence.close()).rejects.toBeInstanceOf(RecordsWriteError);
      await expect(persistence.read()[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(
        RecordsClosedError,
      );
      expect(persistence.unwrittenRecords()).toEqual([{ type: 'test', n: 1 }]);
      // The server is back: a second close() is the retry, on a pool of its own, released again.
      await server.up();
      const before = server.connections();
      await persistence.close();
      expect(server.connections()).toBeGreaterThan(before);
      expect(await storedNumbers(sessionId)).toEqual([0, 1]);
      await expect(persistence.read()[Symbol.asyncIterator]().next()).rejects.toBeInstanceOf(
        RecordsClosedError,
      );
    } finally {
      await server.down();
    }
  });
});
