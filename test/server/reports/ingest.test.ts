import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CountRow, MessageEvent, MismatchSample, ReportBatch } from '@rollcall/protocol';
import { createRollout, createTestApp, type TestApp } from '../../helpers/test-app.ts';

let t: TestApp;
let now: number;
// Every behaviour holds whichever way a group is committed: one transaction (the file) or one batch (a libsql server).
describe.each(['transaction', 'batch'] as const)('POST /v1/sdk/reports, committed as one %s', (mode) => {
  beforeEach(async () => {
    t = await createTestApp({ deps: { ingestCommit: mode } });
    now = t.clock.now();
    await createRollout(t, 'r', { guards: { graceSeconds: 30 } });
    await t.call('POST', '/v1/rollouts/r/start');
    await t.call('POST', '/v1/rollouts/r/advance');
  });
  afterEach(async () => {
    await t.close();
  });

  let seq = 0;
  function batch(parts: Partial<ReportBatch> = {}): ReportBatch {
    return { batchId: `batch-${++seq}-${Math.random()}`, sdk: { name: 'test', version: '0', instanceId: 'i-1' }, sentAt: now, counts: [], messages: [], mismatches: [], noise: [], ...parts };
  }
  const row = (overrides: Partial<CountRow> = {}): CountRow => ({
    rollout: 'r', cohort: 'c1', path: 'new', second: Math.floor(now / 1000), received: 10, processed: 9, failed: 1, compared: 0, mismatched: 0, skipped: 0, dropped: 0, ...overrides,
  });
  const message = (overrides: Partial<MessageEvent> = {}): MessageEvent => ({
    rollout: 'r', messageId: 'm1', partnerId: 'p1', cohort: 'c1', path: 'new', status: 'open', receivedAt: now - 1000, at: now - 1000, ...overrides,
  });
  const sample = (overrides: Partial<MismatchSample> = {}): MismatchSample => ({
    rollout: 'r', cohort: 'shadow', messageId: 'm1', partnerId: 'p1', authoritative: 'old', kind: 'diff', diffs: [{ path: '$.type', old: 'invoice.paid', new: 'invoice.created' }], at: now, ...overrides,
  });

  function send(body: ReportBatch | string, options: { gzip?: boolean; key?: string; headers?: Record<string, string> } = {}) {
    const json = typeof body === 'string' ? body : JSON.stringify(body);
    const payload = options.gzip === false ? json : gzipSync(json);
    return t.rollcall.app.request('/v1/sdk/reports', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${options.key ?? t.keys.sdk}`,
        'content-type': 'application/json',
        ...(options.gzip === false ? {} : { 'content-encoding': 'gzip' }),
        'x-rollcall-clock': String(now),
        ...options.headers,
      },
      body: payload,
    });
  }

  async function table(name: string) {
    return (await t.dump())[name] as any[];
  }

    it('adds counts per cohort, path and second, gzip or plain', async () => {
      expect((await send(batch({ counts: [row()] }))).status).toBe(200);
      expect((await send(batch({ counts: [row({ received: 5, processed: 5, failed: 0 })] }), { gzip: false })).status).toBe(200);
      const counts = await table('cohort_counts');
      expect(counts).toHaveLength(1);
      expect(counts[0]).toMatchObject({ cohort: 'c1', path: 'new', received: 15, processed: 14, failed: 1, bucket: Math.floor(now / 1000) });
    });

    it('acknowledges a retried batch without counting it again', async () => {
      const b = batch({ counts: [row()], messages: [message()] });
      const first = await send(b);
      expect(await first.json()).toEqual({ batchId: b.batchId, duplicate: false, ignored: 0 });
      const again = await send(b);
      expect(await again.json()).toEqual({ batchId: b.batchId, duplicate: true, ignored: 0 });
      expect((await table('cohort_counts'))[0].received).toBe(10);
      expect(await table('messages')).toHaveLength(1);
    });

    it('stores latency histograms per minute', async () => {
      await send(batch({ counts: [row({ latency: [40, 3, 50, 1], candidateLatency: [45, 2] })] }));
      await send(batch({ counts: [row({ latency: [40, 2] })] }));
      const latency = await table('latency_counts');
      expect(latency.map((l: any) => [l.role, l.slot, l.count]).sort()).toEqual([
        ['authoritative', 40, 5],
        ['authoritative', 50, 1],
        ['candidate', 45, 2],
      ]);
      expect(latency.every((l: any) => l.bucket % 60 === 0)).toBe(true);
    });

    it('keeps the ledger: open, then settled; settled before open stays settled', async () => {
      await send(batch({ messages: [message({ messageId: 'a' }), message({ messageId: 'b', status: 'processed', at: now })] }));
      await send(batch({ messages: [message({ messageId: 'a', status: 'processed', at: now }), message({ messageId: 'b' })] }));
      await send(batch({ messages: [message({ messageId: 'c', status: 'failed', error: 'boom', at: now })] }));
      const rows = Object.fromEntries((await table('messages')).map((m: any) => [m.message_id, m]));
      expect(rows.a).toMatchObject({ status: 'processed', received_at: now - 1000, settled_at: now });
      expect(rows.b).toMatchObject({ status: 'processed', received_at: now - 1000 });
      expect(rows.c).toMatchObject({ status: 'failed', error: 'boom' });
    });

    it('marks a message settled after its grace as late', async () => {
      await send(batch({ messages: [message({ messageId: 'slow', receivedAt: now - 31_000, at: now - 31_000 })] }));
      await send(batch({ messages: [message({ messageId: 'slow', status: 'processed', at: now })] }));
      expect((await table('messages'))[0]).toMatchObject({ message_id: 'slow', status: 'late' });
    });

    it('moves SDK timestamps onto the server clock', async () => {
      const skew = 3_600_000; // the SDK's clock runs an hour behind
      await send(batch({ messages: [message({ messageId: 'k', receivedAt: now - skew - 500, at: now - skew - 500 })] }), { headers: { 'x-rollcall-clock': String(now - skew) } });
      expect((await table('messages'))[0].received_at).toBe(now - 500);
    });

    it('keeps at most 20 mismatch samples per cohort and minute', async () => {
      const many = Array.from({ length: 25 }, (_, i) => sample({ messageId: `m${i}` }));
      await send(batch({ mismatches: many.slice(0, 15) }));
      await send(batch({ mismatches: many.slice(15) }));
      expect(await table('mismatch_samples')).toHaveLength(20);
      const reply = await t.call('GET', '/v1/rollouts/r/mismatches?limit=5', { key: t.keys.read });
      expect(reply.status).toBe(200);
      expect(reply.body.items).toHaveLength(5);
      expect(reply.body.items[0]).toMatchObject({ cohort: 'shadow', kind: 'diff', authoritative: 'old', diffs: [{ path: '$.type', old: 'invoice.paid', new: 'invoice.created' }] });
      expect(reply.body.nextCursor).not.toBeNull();
    });

    it('takes a field for noise once it differed in two double runs, counting older SDKs’ reports as one each', async () => {
      await send(batch({ noise: [{ rollout: 'r', paths: ['$.meta.at', '$.items[*].id'] }] }));
      await send(batch({ noise: [{ rollout: 'r', paths: ['$.meta.at'] }] }));
      expect((await t.call('GET', '/v1/rollouts/r/mismatches')).body.learnedNoise).toEqual(['$.meta.at']);
      await send(batch({ noise: [{ rollout: 'r', paths: ['$.items[*].id', '$.x'], runs: 3, counts: [1, 1] }] }));
      const { body } = await t.call('GET', '/v1/rollouts/r/mismatches');
      expect(body.learnedNoise).toEqual(['$.items[*].id', '$.meta.at']);
      expect(body.noise.runs).toBe(3);
      expect(body.noise.fields).toEqual([
        { path: '$.items[*].id', differing: 2, firstSeenAt: expect.any(String), learnedAt: expect.any(String), learnedFrom: 3, noise: true },
        { path: '$.meta.at', differing: 2, firstSeenAt: expect.any(String), learnedAt: expect.any(String), learnedFrom: null, noise: true },
        { path: '$.x', differing: 1, firstSeenAt: expect.any(String), learnedAt: null, learnedFrom: null, noise: false },
      ]);
    });

    it('refuses noise counts that do not match their paths or exceed the runs, storing nothing', async () => {
      for (const noise of [
        [{ rollout: 'r', paths: ['$.a'], counts: [1] }],
        [{ rollout: 'r', paths: ['$.a'], runs: 1, counts: [2] }],
        [{ rollout: 'r', paths: ['$.a', '$.b'], runs: 4, counts: [1] }],
      ]) {
        expect((await send(batch({ noise }))).status).toBe(400);
      }
      expect(await table('learned_noise')).toHaveLength(0);
      expect(await table('noise_runs')).toHaveLength(0);
    });

    it('keeps dropped events by reason, per minute, beside the total; refuses reasons that do not add up, storing nothing', async () => {
      expect((await send(batch({ counts: [row({ dropped: 3, droppedBy: { refused: 2, queue_full: 1 } })] }))).status).toBe(200);
      expect((await send(batch({ counts: [row({ dropped: 4, droppedBy: { refused: 4 } })] }))).status).toBe(200);
      expect((await table('cohort_counts'))[0]).toMatchObject({ dropped: 7 });
      const minute = Math.floor(now / 60_000) * 60;
      expect((await table('dropped_events')).map((r) => [r.cohort, r.path, r.reason, r.bucket, r.count]).sort()).toEqual([
        ['c1', 'new', 'queue_full', minute, 1],
        ['c1', 'new', 'refused', minute, 6],
      ]);
      const before = await t.dump();
      for (const droppedBy of [{ refused: 2 }, { lost: 3 }, { refused: -1, buffer_full: 4 }]) {
        const res = await send(batch({ counts: [row({ dropped: 3, droppedBy: droppedBy as CountRow['droppedBy'] })] }));
        expect(res.status, JSON.stringify(droppedBy)).toBe(400);
      }
      expect(await t.dump()).toEqual(before);
    });

    it('ignores rows for rollouts it does not know, and says so', async () => {
      const reply = await send(batch({ counts: [row({ rollout: 'gone' }), row()], messages: [message({ rollout: 'gone' })] }));
      expect(((await reply.json()) as { ignored: number }).ignored).toBe(2);
      expect(await table('cohort_counts')).toHaveLength(1);
    });

    it('refuses bad reports with a 4xx and stores nothing', async () => {
      const before = await t.dump();
      const cases: [ReportBatch | string, object, number, string][] = [
        ['{"batchId":', {}, 400, 'invalid_json'],
        [batch({ counts: [row({ received: -1 })] }), {}, 400, 'invalid_body'],
        [batch({ counts: [row({ cohort: 'everyone' })] }), {}, 400, 'invalid_body'],
        [batch({ messages: [message({ status: 'lost' as never })] }), {}, 400, 'invalid_body'],
        [{ ...batch(), extra: true } as never, {}, 400, 'invalid_body'],
        [batch(), { headers: { 'content-encoding': 'br' } }, 415, 'unsupported_media_type'],
      ];
      for (const [body, options, status, code] of cases) {
        const reply = await send(body, options);
        expect(reply.status).toBe(status);
        expect(((await reply.json()) as { error: { code: string } }).error.code).toBe(code);
      }
      const notGzip = await t.rollcall.app.request('/v1/sdk/reports', {
        method: 'POST',
        headers: { authorization: `Bearer ${t.keys.sdk}`, 'content-encoding': 'gzip' },
        body: 'plain text',
      });
      expect(notGzip.status).toBe(400);
      expect(await t.dump()).toEqual(before);
    });

    it('refuses a gzip bomb with 413', async () => {
      const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 32));
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const reply = await t.rollcall.app.request('/v1/sdk/reports', {
        method: 'POST',
        headers: { authorization: `Bearer ${t.keys.sdk}`, 'content-encoding': 'gzip' },
        body: bomb,
      });
      expect(reply.status).toBe(413);
    });

    it('is for sdk and admin keys only', async () => {
      expect((await send(batch(), { key: t.keys.read })).status).toBe(403);
      expect((await send(batch(), { key: t.keys.admin })).status).toBe(200);
    });

    it('commits concurrent batches together and answers each', async () => {
      const commits = async () => {
        const { text } = await t.call('GET', '/metrics');
        const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
        return { commits: value('rollcall_report_group_batches_count'), batches: value('rollcall_report_group_batches_sum') };
      };
      const before = await commits();
      const replies = await Promise.all(Array.from({ length: 30 }, () => send(batch({ counts: [row({ received: 1, processed: 1, failed: 0 })] }))));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      expect((await table('cohort_counts'))[0].received).toBe(30);
      // Batches that arrive while a commit runs share the next one: 30 batches, a handful of commits.
      const after = await commits();
      expect(after.batches - before.batches).toBe(30);
      expect(after.commits - before.commits).toBeLessThanOrEqual(10);
    });

    it('counts a batch once when another server claims it between the read and the commit', async () => {
      const raced = batch({ counts: [row()] });
      const client = t.database.client;
      const realBatch = client.batch.bind(client);
      // The other server's claim lands just before this one's commit (in batch mode, its one batch; else its transaction).
      const claimFirst = async () => {
        await client.execute({ sql: 'INSERT INTO report_batches (batch_id, instance_id, received_at) VALUES (?, ?, ?)', args: [raced.batchId, 'other', now] });
        await client.execute({ sql: 'INSERT INTO cohort_counts (rollout_id, cohort, path, bucket, received, processed, failed, compared, mismatched, skipped, dropped) SELECT id, ?, ?, ?, 10, 9, 1, 0, 0, 0, 0 FROM rollouts WHERE key = ?', args: ['c1', 'new', Math.floor(now / 1000), 'r'] });
      };
      client.batch = (async (...args: Parameters<typeof realBatch>) => {
        client.batch = realBatch;
        await claimFirst();
        return realBatch(...args);
      }) as typeof client.batch;
      if (mode === 'transaction') await claimFirst();
      const reply = await send(raced);
      client.batch = realBatch;
      expect(reply.status).toBe(200);
      expect(await reply.json()).toMatchObject({ batchId: raced.batchId, duplicate: true });
      expect(await table('cohort_counts')).toMatchObject([{ received: 10, processed: 9, failed: 1 }]);
    });
});
