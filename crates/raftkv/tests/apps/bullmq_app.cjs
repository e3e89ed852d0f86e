// BullMQ (Node) against a raftkv cluster, driven by crates/raftkv/tests/apps.rs: JOBS jobs are
// added through RAFTKV_PRODUCER, one worker per address in RAFTKV_WORKERS processes them. Each
// job records that it ran (INCR apps:ran:i, SADD apps:done i). The last line printed is a JSON
// summary; the exit status is 0 when every job ran. BullMQ is at-least-once: a job whose worker
// lost its lock (stalled) runs again, so ran_twice may be above 0.
// CommonJS, so NODE_PATH (scripts/test's .node-test/node_modules) resolves the packages.
const { Queue, Worker } = require('bullmq');
const IORedis = require('ioredis');

const split = (a) => { const [host, port] = a.split(':'); return { host, port: Number(port), maxRetriesPerRequest: null }; };
const producer = split(process.env.RAFTKV_PRODUCER ?? '127.0.0.1:7601');
const workers = (process.env.RAFTKV_WORKERS ?? '127.0.0.1:7602,127.0.0.1:7603').split(',').map(split);
const jobs = Number(process.env.RAFTKV_JOBS ?? '200');
const deadline = Date.now() + 1000 * Number(process.env.RAFTKV_DEADLINE ?? '120');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function retry(f) {
  for (;;) {
    try { return await f(); } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(200);
    }
  }
}

async function main() {
  const queue = new Queue('apps', { connection: producer });
  queue.on('error', () => {});
  for (let i = 0; i < jobs; i++) {
    await retry(() => queue.add('record', { i }, { jobId: `job-${i}`, attempts: 5, backoff: { type: 'fixed', delay: 200 } }));
  }
  const started = Date.now();
  const running = workers.map((connection) => {
    const rec = new IORedis(connection);
    rec.on('error', () => {});
    const w = new Worker('apps', async (job) => {
      await rec.incr(`apps:ran:${job.data.i}`);
      await rec.sadd('apps:done', job.data.i);
      return job.data.i;
    }, { connection, concurrency: 4, stalledInterval: 3000, maxStalledCount: 5 });
    w.on('error', () => {});
    return { w, rec };
  });
  const check = new IORedis(producer);
  check.on('error', () => {});
  let done = 0;
  while (Date.now() < deadline) {
    try { done = await check.scard('apps:done'); } catch (e) { /* election: try again */ }
    if (done >= jobs) break;
    await sleep(200);
  }
  const counts = (await retry(() => check.mget(...Array.from({ length: jobs }, (_, i) => `apps:ran:${i}`)))).map((c) => Number(c ?? 0));
  const missing = counts.flatMap((c, i) => (c === 0 ? [i] : []));
  const summary = { jobs, missing, ran_twice: counts.filter((c) => c > 1).length, finished: done >= jobs, elapsed_s: (Date.now() - started) / 1000, job_counts: await retry(() => queue.getJobCounts()) };
  console.log(JSON.stringify(summary));
  process.exit(missing.length === 0 && done >= jobs ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(2); });
