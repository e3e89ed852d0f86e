"""Real Redis applications against a raftkv cluster (driven by crates/raftkv/tests/apps.rs).

usage: pyapps.py APP   with APP one of rq, celery, lock, ratelimit
Environment: RAFTKV_PRODUCER (host:port jobs are enqueued through), RAFTKV_WORKERS (comma-
separated host:port list, one worker per address), RAFTKV_JOBS (how many jobs), RAFTKV_DEADLINE
(seconds). Progress is visible to the test as `SCARD apps:done` on any node. The last line printed
is a JSON summary; the exit status is 0 when the application's promise held.
"""
import json
import os
import sys
import threading
import time

import redis


def addr(s):
    host, port = s.rsplit(":", 1)
    return host, int(port)


def client(s, **kw):
    host, port = addr(s)
    return redis.Redis(host=host, port=port, socket_timeout=10, **kw)


PRODUCER = os.environ.get("RAFTKV_PRODUCER", "127.0.0.1:7601")
WORKERS = os.environ.get("RAFTKV_WORKERS", "127.0.0.1:7602,127.0.0.1:7603").split(",")
JOBS = int(os.environ.get("RAFTKV_JOBS", "200"))
DEADLINE = time.monotonic() + float(os.environ.get("RAFTKV_DEADLINE", "120"))


def retry(f, what):
    """Calls f until it returns without a Redis error (leader elections answer -TRYAGAIN)."""
    while True:
        try:
            return f()
        except redis.exceptions.RedisError as e:
            if time.monotonic() > DEADLINE:
                raise
            print(f"retrying {what}: {e}", file=sys.stderr)
            time.sleep(0.2)


def record(i):
    """The job: count that it ran (INCR) and that it is done (SADD); the test reads both."""
    r = client(os.environ["RAFTKV_RECORD"])
    retry(lambda: r.incr(f"apps:ran:{i}"), "incr")
    retry(lambda: r.sadd("apps:done", i), "sadd")
    return i


# How long `settled` must hold before wait_done stops waiting for jobs that cannot come back.
SETTLED_SECS = 5


def wait_done(r, n, settled=None):
    """Waits until n jobs are done; False at the deadline, or once `settled` (nothing left that
    could still run) has held for SETTLED_SECS with fewer done."""
    settled_since = None
    while time.monotonic() < DEADLINE:
        try:
            if r.scard("apps:done") >= n:
                return True
            if settled is not None and settled():
                settled_since = settled_since or time.monotonic()
                if time.monotonic() - settled_since >= SETTLED_SECS:
                    return False
            else:
                settled_since = None
        except redis.exceptions.RedisError:
            settled_since = None
        time.sleep(0.2)
    return False


def ran_counts(r):
    counts = retry(lambda: r.mget([f"apps:ran:{i}" for i in range(JOBS)]), "mget")
    return [int(c or 0) for c in counts]


def summary(r, **extra):
    counts = ran_counts(r)
    out = {
        "jobs": JOBS,
        "missing": [i for i, c in enumerate(counts) if c == 0],
        "ran_twice": sum(1 for c in counts if c > 1),
        **extra,
    }
    print(json.dumps(out))
    return out


# --- python-rq ------------------------------------------------------------------------------
def rq_worker(address):
    from rq import Queue, Worker

    os.environ["RAFTKV_RECORD"] = address
    while True:
        try:
            conn = client(address)
            Worker([Queue("apps", connection=conn)], connection=conn).work(
                with_scheduler=False, logging_level="WARNING")
        except Exception as e:  # a worker dies on a lost connection; a supervisor restarts it
            print(f"rq worker on {address} restarting: {e!r}", file=sys.stderr)
            time.sleep(0.2)


def run_rq():
    from rq import Queue, Retry

    r = client(PRODUCER)
    q = Queue("apps", connection=r)
    for i in range(JOBS):
        retry(lambda: q.enqueue("pyapps.record", i, retry=Retry(max=3)), "enqueue")
    # rq workers fork a work horse per job; run each in its own process.
    import multiprocessing
    procs = [multiprocessing.Process(target=rq_worker, args=(a,), daemon=True) for a in WORKERS]
    started = time.monotonic()
    for p in procs:
        p.start()
    ok = wait_done(r, JOBS)
    elapsed = time.monotonic() - started
    for p in procs:
        p.kill()
    s = summary(r, finished=ok, elapsed_s=round(elapsed, 2))
    return ok and not s["missing"]



# --- Celery ---------------------------------------------------------------------------------
def celery_app(broker):
    from celery import Celery

    app = Celery("pyapps", broker=broker, backend=broker)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        task_acks_late=True,  # at-least-once: a job whose worker lost it runs again
        task_reject_on_worker_lost=True,
        # A job a crashed worker had taken stays in kombu's `unacked` hash until a live worker
        # sweeps it back to the queue, once it is `visibility_timeout` seconds old. kombu's
        # defaults sweep every 100 s (every 10th call of a 10 s timer) and hold the sweep's
        # mutex for 5 minutes when its holder dies or its release is lost in a failover: longer
        # than the run. A deployment that kills workers sets them as a failover test needs.
        broker_transport_options={
            "visibility_timeout": 10,
            "unacked_restore_interval": 2,
            "unacked_restore_throttle": 1,
            "unacked_mutex_expire": 10,
        },
        worker_hijack_root_logger=False,
    )

    @app.task(name="pyapps.record")
    def record_task(i):
        return record(i)

    return app


def celery_worker(address):
    os.environ["RAFTKV_RECORD"] = address
    app = celery_app(f"redis://{address}/0")
    while True:
        # A worker exits on an error its transport cannot recover from (a reply of "write
        # outcome unknown" to its BRPOP during the failover); a supervisor restarts it.
        try:
            app.worker_main(["worker", "-P", "solo", "--loglevel", "WARNING", "--without-gossip",
                             "--without-mingle", "--without-heartbeat"])
        except SystemExit as e:
            print(f"celery worker on {address} exited ({e.code}); restarting", file=sys.stderr)
        except Exception as e:
            print(f"celery worker on {address} restarting: {e!r}", file=sys.stderr)
        time.sleep(0.2)


def celery_settled(r):
    """No job is left to run: none queued, none taken and unacknowledged (kombu's sweep would
    requeue those). A job a worker has popped but not yet recorded is in neither for a moment."""
    return r.llen("celery") == 0 and r.hlen("unacked") == 0


def run_celery():
    import multiprocessing

    r = client(PRODUCER)
    app = celery_app(f"redis://{PRODUCER}/0")
    for i in range(JOBS):
        retry(lambda: app.send_task("pyapps.record", args=(i,)), "send_task")
    procs = [multiprocessing.Process(target=celery_worker, args=(a,), daemon=True) for a in WORKERS]
    started = time.monotonic()
    for p in procs:
        p.start()
    ok = wait_done(r, JOBS, settled=lambda: celery_settled(r))
    elapsed = time.monotonic() - started
    for p in procs:
        p.kill()
    s = summary(r, finished=ok, elapsed_s=round(elapsed, 2))
    return ok and not s["missing"]


# --- redis-py Lock --------------------------------------------------------------------------
def run_lock():
    """Clients on every node increment a counter with GET then SET inside redis-py's Lock. A
    lost update (counter below the SETs that succeeded) would mean two held the lock at once."""
    addresses = [PRODUCER] + WORKERS
    stats = {"ok": 0, "unknown": 0, "lock_lost": 0}
    mu = threading.Lock()
    section = [0]

    def worker(address):
        # No automatic retry after a broken connection: a retried release of a lock that the
        # first try did release would report the lock as lost, and a retried SET would hide an
        # unknown outcome. Every error is counted here instead.
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        r = client(address, retry=Retry(NoBackoff(), 0))
        while time.monotonic() < DEADLINE:
            with mu:
                if section[0] >= JOBS:
                    return
            lock = r.lock("apps:lock", timeout=8, blocking_timeout=10)
            try:
                if not lock.acquire():
                    continue
            except redis.exceptions.RedisError:
                time.sleep(0.1)
                continue  # outcome unknown: the lock may be ours; it expires after its timeout
            try:
                value = int(retry(lambda: r.get("apps:counter"), "get") or 0)
                try:
                    r.set("apps:counter", value + 1)
                    outcome = "ok"
                except redis.exceptions.RedisError:
                    outcome = "unknown"
                with mu:
                    stats[outcome] += 1
                    n = section[0]
                    section[0] += 1
                retry(lambda: r.incr(f"apps:ran:{n}"), "incr") if n < JOBS else None
                retry(lambda: r.sadd("apps:done", n), "sadd")
            finally:
                try:
                    lock.release()
                except redis.exceptions.LockError:
                    with mu:
                        stats["lock_lost"] += 1
                except redis.exceptions.RedisError:
                    pass

    threads = [threading.Thread(target=worker, args=(a,)) for a in addresses for _ in range(2)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    r = client(PRODUCER)
    counter = int(retry(lambda: r.get("apps:counter"), "get") or 0)
    s = summary(r, counter=counter, elapsed_s=round(elapsed, 2), **stats)
    exclusive = stats["ok"] <= counter <= stats["ok"] + stats["unknown"]
    return exclusive and stats["lock_lost"] == 0 and not s["missing"]


# --- sliding-window rate limiter ------------------------------------------------------------
RATE_LIMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, now}
end
return {0, now}
"""


def run_ratelimit():
    """Clients on every node ask a sliding-window limiter (LIMIT grants per WINDOW_MS, time from
    redis.call('TIME')) for JOBS grants. No window may hold more grants than the limit."""
    limit, window_ms = 5, 200
    addresses = [PRODUCER] + WORKERS
    grants = []
    mu = threading.Lock()
    seq = [0]

    def worker(address):
        r = client(address)
        script = r.register_script(RATE_LIMIT)
        while time.monotonic() < DEADLINE:
            with mu:
                if len(grants) >= JOBS:
                    return
                seq[0] += 1
                me = seq[0]
            try:
                allowed, now = script(keys=["apps:limiter"], args=[limit, window_ms, me])
            except redis.exceptions.RedisError:
                time.sleep(0.1)
                continue  # unknown: the grant may exist; it only makes the check stricter
            if allowed:
                with mu:
                    n = len(grants)
                    grants.append(now)
                if n < JOBS:
                    retry(lambda: r.incr(f"apps:ran:{n}"), "incr")
                    retry(lambda: r.sadd("apps:done", n), "sadd")
            else:
                time.sleep(0.01)

    threads = [threading.Thread(target=worker, args=(a,)) for a in addresses for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    worst = max((sum(1 for g in grants[i:] if g < grants[i] + window_ms) for i in range(len(grants))), default=0)
    r = client(PRODUCER)
    s = summary(r, grants=len(grants), most_in_a_window=worst, limit=limit)
    return worst <= limit and not s["missing"]


APPS = {"rq": run_rq, "celery": run_celery, "lock": run_lock, "ratelimit": run_ratelimit}

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ok = APPS[sys.argv[1]]()
    sys.stdout.flush()
    os._exit(0 if ok else 1)
