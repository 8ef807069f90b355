import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import {
  type AgentRecordEnvelope,
  type RecordsErrorInfo,
  RecordsWriteError,
} from '@agent-records/types';
import { afterAll, describe, expect, it } from 'vitest';
import { available, DATABASE_URL, dropSchema, newPool, schemaName } from '../test/database.js';
import { PostgresAgentRecordPersistence } from './pg-persistence.js';

type Rec = AgentRecordEnvelope & { n: number; pad?: string };
const schema = schemaName();
const admin = newPool({ max: 2 });
afterAll(async () => {
  await admin.end();
  if (available) await dropSchema(schema);
});

async function storedNumbers(sessionId: string): Promise<Array<[number, number]>> {
  const { rows } = await admin.query(
    `SELECT seq, (record->>'n')::int AS n FROM "${schema}".agent_records WHERE session_id = $1 ORDER BY seq`,
    [sessionId],
  );
  return rows.map((r) => [Number(r.seq), r.n]);
}

const expectedRows = (count: number) => Array.from({ length: count }, (_, i) => [i + 1, i]);

describe.skipIf(!available)('PostgreSQL faults', () => {
  it('a connection killed mid-batch (pg_terminate_backend) is an episode; the retry writes everything once', async () => {
    const pool = newPool({ application_name: 'ar-victim', max: 2 });
    const reports: string[] = [];
    const persistence = new PostgresAgentRecordPersistence<Rec>('terminated', {
      pool,
      schema,
      onError: (_e, info: RecordsErrorInfo) => reports.push(info.kind),
    });
    persistence.append({ type: 'test', n: 0 });
    await persistence.flush();
    let total = 1;
    let killed = 0;
    for (let attempt = 0; attempt < 5 && killed === 0; attempt++) {
      for (let i = 0; i < 40_000; i++)
        persistence.append({ type: 'test', n: total++, pad: 'p'.repeat(200) });
      const flushing = persistence.flush().then(
        () => 'ok',
        (error: Error) => error,
      );
      while (killed === 0) {
        const { rows } = await admin.query(
          `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
           WHERE application_name = 'ar-victim' AND state = 'active'
             AND (query ILIKE 'COPY%' OR query ILIKE 'INSERT%' OR query ILIKE 'WITH fence%')`,
        );
        killed += rows.filter((r) => r.done).length;
        const settled = await Promise.race([
          flushing,
          new Promise((r) => setTimeout(() => r('pending'), 2)),
        ]);
        if (settled !== 'pending') break;
      }
      const outcome = await flushing;
      // The flush was called after the writer's run had begun (at the first append): by the
      // kit's rule it retries once itself, so it may resolve; if it rejects, it is the episode's.
      if (killed > 0 && outcome !== 'ok') expect(outcome).toBeInstanceOf(RecordsWriteError);
    }
    expect(killed).toBeGreaterThan(0);
    await persistence.flush();
    expect(reports).toEqual(['write-failed', 'write-recovered']);
    await persistence.close();
    await pool.end();
    expect(await storedNumbers('terminated')).toEqual(expectedRows(total));
  }, 60_000);

  it('a batch whose commit answer is lost (the one statement that commits it) is recognised on retry: no duplicate, no gap', async () => {
    // A TCP proxy in front of the real server that, when armed, passes the statement that
    // commits the batch holding record 10 through (its rows travel in a bind value, an array
    // literal that escapes their quotes) and then
    // cuts the connection instead of returning the server's answer.
    const target = new URL(DATABASE_URL);
    let armed = false;
    let cut = 0;
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(target.port || 5432), target.hostname);
      let dropNextAnswer = false;
      client.on('data', (data) => {
        if (armed && data.includes('\\"n\\":10')) {
          armed = false;
          dropNextAnswer = true;
        }
        server.write(data);
      });
      server.on('data', (data) => {
        if (dropNextAnswer) {
          cut++;
          client.destroy();
          server.destroy();
          return;
        }
        client.write(data);
      });
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
      client.on('close', () => server.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as net.AddressInfo).port;
    const url = new URL(DATABASE_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const pool = newPool({ connectionString: url.toString(), max: 2 });
    try {
      const reports: string[] = [];
      const persistence = new PostgresAgentRecordPersistence<Rec>('lost-ack', {
        pool,
        schema,
        onError: (_e, info: RecordsErrorInfo) => reports.push(info.kind),
      });
      for (let i = 0; i < 10; i++) persistence.append({ type: 'test', n: i });
      await persistence.flush();
      armed = true;
      for (let i = 10; i < 20; i++) persistence.append({ type: 'test', n: i });
      // The flush began after the writer's run (started by the first append): it retries once
      // itself, and that retry finds the batch committed. A rejection would be the episode's.
      await persistence.flush().catch((error: unknown) => {
        expect(error).toBeInstanceOf(RecordsWriteError);
      });
      expect(cut).toBe(1);
      expect(reports[0]).toBe('write-failed');
      // The batch did commit; the client could not know.
      expect(await storedNumbers('lost-ack')).toEqual(expectedRows(20));
      for (let i = 20; i < 25; i++) persistence.append({ type: 'test', n: i });
      await persistence.flush();
      await persistence.close();
      expect(await storedNumbers('lost-ack')).toEqual(expectedRows(25));
    } finally {
      await pool.end();
      proxy.close();
    }
  }, 30_000);

  const cluster = readdirSafe('/etc/postgresql')[0];
  const canRestart =
    process.getuid?.() === 0 &&
    cluster !== undefined &&
    new URL(DATABASE_URL).hostname === '127.0.0.1';
  if (!canRestart)
    console.log(
      'skipping the server-restart test: needs root and the local cluster in /etc/postgresql',
    );

  it.skipIf(!canRestart)(
    'a server restart during appends is an episode; afterwards every record is there once',
    async () => {
      const pool = newPool({ max: 2 });
      const reports: string[] = [];
      const persistence = new PostgresAgentRecordPersistence<Rec>('restart', {
        pool,
        schema,
        onError: (_e, info) => reports.push(info.kind),
      });
      let n = 0;
      let failures = 0;
      // The restart starts once appends are being written (not after a guessed delay).
      let restart: Promise<void> | null = null;
      let restarted = false;
      const startRestart = () =>
        new Promise<void>((resolve, reject) => {
          execFile(
            'pg_ctlcluster',
            ['--skip-systemctl-redirect', cluster as string, 'main', 'restart'],
            (error) => {
              restarted = true;
              if (error) reject(error);
              else resolve();
            },
          );
        });
      const deadline = Date.now() + 30_000;
      while ((!restarted || failures === 0) && Date.now() < deadline) {
        for (let i = 0; i < 50; i++) persistence.append({ type: 'test', n: n++ });
        await persistence.flush().then(
          () => {
            if (restart) return;
            restart = startRestart();
            restart.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
          },
          () => {
            failures++;
          },
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await restart;
      // Back up: the queued records go in on the next successful flush (polled, with a deadline).
      const upBy = Date.now() + 30_000;
      for (;;) {
        try {
          await persistence.flush();
          break;
        } catch (error) {
          if (Date.now() > upBy) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      await persistence.close();
      await pool.end();
      expect(failures).toBeGreaterThan(0);
      expect(reports.filter((k) => k === 'write-failed')).toHaveLength(1);
      expect(await storedNumbers('restart')).toEqual(expectedRows(n));
    },
    60_000,
  );
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
