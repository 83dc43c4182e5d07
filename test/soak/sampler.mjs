/**
 * The soak's view of the database, read on a thread of its own. The embedded
 * driver runs a statement on the calling thread: on the soak's main thread
 * every count over the ledger (a million and a half rows) held the traffic
 * generator and the SDKs' flushes for as long as it ran (at most 78 ms in a
 * 30-minute run; longer whenever the file's pages are not in memory). Here
 * only this thread waits. Plain JavaScript: a worker thread does not get the
 * TypeScript loader the soak runs under.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Libsql from 'libsql';

const db = new Libsql(workerData.path, { readonly: true });
db.exec('PRAGMA busy_timeout = 5000');
const read = db.prepare('SELECT (SELECT count(*) FROM messages) ledger, (SELECT count(*) FROM cohort_counts) counts, (SELECT coalesce(sum(received), 0) FROM cohort_counts) committed');

// Answers 'sample' with { ledger, counts, committed, ms } (`Sample` in index.ts); 'close' ends the thread.
parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  const started = performance.now();
  const row = read.get();
  parentPort.postMessage({ ledger: Number(row.ledger), counts: Number(row.counts), committed: Number(row.committed), ms: performance.now() - started });
});
