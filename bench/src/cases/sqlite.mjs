// SQLite baselines (better-sqlite3, WAL): 'sqlite-full' (synchronous = FULL: each commit fsyncs
// the WAL, durable like ours) and 'sqlite-normal' (synchronous = NORMAL: in WAL mode a commit is
// not synced, so the last transactions can be lost on power failure — NOT the same guarantee,
// shown for what users often pick). Records are JSON text in a rowid table, one row each.
import { measure, timeColdThenSteady } from '../lib/measure.mjs';
import { loadSqlite } from '../lib/sqlite-install.mjs';
import { makeRecords } from '../records.mjs';

const METADATA = { type: 'metadata', protocol_version: '1.0', created_at: 1 };

function open(impl, file) {
  const Database = loadSqlite();
  const db = new Database(`${file}.sqlite`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${impl === 'sqlite-normal' ? 'NORMAL' : 'FULL'}`);
  db.exec('CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY, record TEXT NOT NULL)');
  return db;
}

export const SQLITE_BASELINES = ['sqlite-full', 'sqlite-normal'];

export default {
  // Batched: every record in one transaction through one prepared statement.
  async batched({ impl, count, file }) {
    const data = makeRecords(2 * count);
    const db = open(impl, file);
    const insert = db.prepare('INSERT INTO records (record) VALUES (?)');
    const all = db.transaction((rows) => {
      for (const record of rows) insert.run(JSON.stringify(record));
    });
    const result = await measure(() => {
      all(data);
    });
    db.close();
    return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
  },

  // Durable: one autocommit INSERT per record (blocking, as better-sqlite3 always is).
  async durable({ impl, count, file }) {
    const data = makeRecords(2 * count);
    const db = open(impl, file);
    const insert = db.prepare('INSERT INTO records (record) VALUES (?)');
    insert.run('{"type":"warmup"}');
    const figures = await timeColdThenSteady(count, (i) => {
      insert.run(JSON.stringify(data[i]));
    });
    db.close();
    return { records: count, ...figures };
  },

  // Writes the database the replay case reads (beside the shared log).
  async 'prepare-sqlite'({ impl, count, file }) {
    const db = open(impl, file);
    db.exec('DELETE FROM records');
    const insert = db.prepare('INSERT INTO records (record) VALUES (?)');
    db.transaction((rows) => {
      for (const record of rows) insert.run(JSON.stringify(record));
    })([METADATA, ...makeRecords(count)]);
    db.close();
    return {};
  },

  // Replay: one SELECT in order, each record parsed.
  async replay({ impl, count, file }) {
    const db = open(impl, file);
    const select = db.prepare('SELECT record FROM records ORDER BY seq').pluck();
    const result = await measure(() => {
      let restored = 0;
      for (const text of select.iterate()) {
        JSON.parse(text);
        restored++;
      }
      return { restored };
    });
    db.close();
    return { ...result, records: count, recordsPerSec: count / (result.ms / 1000) };
  },
};
