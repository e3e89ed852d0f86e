"""Differential fuzz of hash, list, set and stream commands against Redis.

Prints a goldenscript of N random commands (seeded) on a few keys of every type that collide
(so WRONGTYPE and missing keys come up), with odd counts, indexes, IDs and options, avoiding
anything random, time-dependent, unordered in Redis (HGETALL, SMEMBERS and the set algebra
list members in hash-table order there; XADD `*` reads the clock) or documented as different
(`~` trimming, HINCRBYFLOAT's 15 significant digits, LPOS RANK -9223372036854775808). Use as
zset_fuzz.py:

    python3 crates/kv/tests/tools/aggregate_fuzz.py SEED N > crates/kv/tests/scripts/zz_fuzz
    UPDATE_GOLDENFILES=1 cargo test -p raftkv-kv --test scripts
    python3 crates/kv/tests/tools/redis_check.py crates/kv/tests/scripts/zz_fuzz PORT
    rm crates/kv/tests/scripts/zz_fuzz
"""
import random, re, sys

random.seed(int(sys.argv[1]))
KEYS = {
    "l": ["l1", "l2"],
    "h": ["h1", "h2"],
    "s": ["s1", "s2"],
    "x": ["x1", "x2"],
}
OTHER = ["str", "none", "l1", "h1", "s1", "x1"]
ELEMS = ["a", "b", "c", "1", "2", ""]


def key(kind):
    """Mostly a key of the command's own type, sometimes any key."""
    if random.random() < 0.85:
        return random.choice(KEYS[kind])
    return random.choice(OTHER)


def e():
    return random.choice(ELEMS)


def num(lo=-4, hi=6):
    r = random.random()
    if r < 0.9:
        return str(random.randint(lo, hi))
    return random.choice(["x", "1.5", "-0", "9223372036854775807", "-9223372036854775807", ""])


def val():
    """A hash value: numbers and text, but no huge integer (HINCRBYFLOAT would print it with
    15 significant digits, a documented difference)."""
    return random.choice([str(random.randint(-4, 6)), "1.5", "x", "", "-0"])


def sid():
    """A stream ID argument: mostly small explicit IDs, sometimes partial or invalid."""
    r = random.random()
    if r < 0.7:
        return "%d-%d" % (random.randint(0, 6), random.randint(0, 3))
    if r < 0.85:
        return str(random.randint(0, 6))
    return random.choice(["0-0", "x", "1-x", "-1", "18446744073709551615-18446744073709551615"])


def bound(start):
    r = random.random()
    if r < 0.2:
        return "-" if start else "+"
    if r < 0.5:
        return "(" + sid()
    return sid()


def trim():
    out = [random.choice(["MAXLEN", "MINID"])]
    # No `~`: raftkv trims exactly where Redis keeps whole radix-tree nodes (documented), so
    # LIMIT here always meets the "LIMIT without ~" error.
    if random.random() < 0.3:
        out.append("=")
    out.append(num(0, 4) if out[0] == "MAXLEN" else sid())
    if random.random() < 0.15:
        out += ["LIMIT", num(0, 3)]
    return out


def side():
    return random.choice(["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"])


def cmd():
    c = random.randint(0, 54)
    # Hashes.
    if c == 0: return ["HSET", key("h")] + [x for _ in range(random.randint(1, 3)) for x in (e(), val())]
    if c == 1: return ["HSETNX", key("h"), e(), val()]
    if c == 2: return ["HDEL", key("h")] + [e() for _ in range(random.randint(1, 3))]
    if c == 3: return ["HINCRBY", key("h"), e(), num()]
    if c == 4: return ["HINCRBYFLOAT", key("h"), e(), random.choice(["1", "0.5", "-2.25", "1e2", "x", "inf", "0"])]
    if c == 5: return ["HMGET", key("h")] + [e() for _ in range(random.randint(1, 4))]
    if c == 6: return [random.choice(["HGET", "HSTRLEN", "HEXISTS"]), key("h"), e()]
    if c == 7: return [random.choice(["HLEN", "TYPE", "EXISTS"]), key("h")]
    if c == 8: return ["HRANDFIELD", random.choice(["none", "str", "h1"]), "0"] + random.choice([[], ["WITHVALUES"], ["x"]])
    if c == 9: return ["HMSET", key("h"), e()] + random.choice([[val()], [], [val(), e()]])
    # Lists.
    if c == 10: return [random.choice(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), key("l")] + [e() for _ in range(random.randint(1, 3))]
    if c == 11: return [random.choice(["LPOP", "RPOP"]), key("l")] + random.choice([[], [num(-1, 4)]])
    if c == 12: return ["LRANGE", key("l"), num(-6, 6), num(-6, 6)]
    if c == 13: return ["LINDEX", key("l"), num(-6, 6)]
    if c == 14: return ["LSET", key("l"), num(-6, 6), e()]
    if c == 15: return ["LINSERT", key("l"), random.choice(["BEFORE", "AFTER", "before", "UP"]), e(), e()]
    if c == 16: return ["LREM", key("l"), num(-3, 3), e()]
    if c == 17: return ["LTRIM", key("l"), num(-6, 6), num(-6, 6)]
    if c == 18:
        args = ["LPOS", key("l"), e()]
        for _ in range(random.randint(0, 3)):
            opt = random.choice(["RANK", "COUNT", "MAXLEN"])
            args += [opt, num(-3, 4)]
        return args
    if c == 19: return ["LMOVE", key("l"), key("l"), side(), side()]
    if c == 20: return ["RPOPLPUSH", key("l"), key("l")]
    if c == 21:
        n = random.randint(0, 3)
        args = ["LMPOP", str(n)] + [key("l") for _ in range(n)] + [side()]
        if random.random() < 0.5: args += ["COUNT", num(-1, 4)]
        return args
    if c == 22: return ["LLEN", key("l")]
    # Sets.
    if c == 23: return ["SADD", key("s")] + [e() for _ in range(random.randint(1, 3))]
    if c == 24: return ["SREM", key("s")] + [e() for _ in range(random.randint(1, 3))]
    if c == 25: return ["SISMEMBER", key("s"), e()]
    if c == 26: return ["SMISMEMBER", key("s")] + [e() for _ in range(random.randint(1, 3))]
    if c == 27: return [random.choice(["SCARD", "TYPE", "EXISTS"]), key("s")]
    if c == 28: return ["SMOVE", key("s"), key("s"), e()]
    if c == 29:
        op = random.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
        return [op, key("s")] + [key("s") for _ in range(random.randint(1, 3))]
    if c == 30:
        n = random.randint(0, 3)
        args = ["SINTERCARD", str(n)] + [key("s") for _ in range(max(n, 1))]
        if random.random() < 0.5: args += ["LIMIT", num(-1, 3)]
        return args
    if c == 31: return [random.choice(["SPOP", "SRANDMEMBER"]), random.choice(["none", "str", "s1"]), random.choice(["0", "-0", "x"])]
    if c == 32: return ["SCARD", key("s")]
    # Streams.
    if c in (33, 34, 35, 36):
        args = ["XADD", key("x")]
        if random.random() < 0.15: args.append("NOMKSTREAM")
        if random.random() < 0.3: args += trim()
        args.append(random.choice([sid(), sid(), str(random.randint(0, 6)) + "-*"]))
        args += [x for _ in range(random.randint(1, 2)) for x in (e(), num())]
        if random.random() < 0.05: args.pop()
        return args
    if c == 37: return ["XDEL", key("x")] + [sid() for _ in range(random.randint(1, 3))]
    if c == 38: return ["XTRIM", key("x")] + trim()
    if c == 39: return ["XLEN", key("x")]
    if c in (40, 41):
        rev = random.random() < 0.5
        a, b = bound(True), bound(False)
        args = ["XREVRANGE", key("x"), b, a] if rev else ["XRANGE", key("x"), a, b]
        if random.random() < 0.5: args += ["COUNT", num(-1, 4)]
        return args
    if c == 42:
        ks = [key("x") for _ in range(random.randint(1, 2))]
        args = ["XREAD"]
        if random.random() < 0.5: args += ["COUNT", num(-1, 3)]
        return args + ["STREAMS"] + ks + [random.choice([sid(), "0", "$"]) for _ in ks]
    if c == 43:
        args = ["XGROUP", "CREATE", key("x"), random.choice(["g", "g2"]), random.choice(["0", "$", sid()])]
        if random.random() < 0.5: args.append("MKSTREAM")
        return args
    if c == 44:
        return ["XREADGROUP", "GROUP", random.choice(["g", "g2"]), random.choice(["c", "c2"])] + \
            random.choice([[], ["COUNT", num(0, 3)], ["NOACK"]]) + ["STREAMS", key("x"), random.choice([">", "0", sid()])]
    if c == 45: return ["XACK", key("x"), random.choice(["g", "g2"])] + [sid() for _ in range(random.randint(1, 2))]
    if c == 46: return ["XPENDING", key("x"), random.choice(["g", "g2"])]
    if c == 47: return ["XGROUP", "SETID", key("x"), random.choice(["g", "g2"]), random.choice(["0", "$", sid()])]
    if c == 48: return ["XGROUP", random.choice(["DESTROY", "CREATECONSUMER", "DELCONSUMER"]), key("x"), random.choice(["g", "g2"])] + random.choice([[], ["c"], ["c3"]])
    if c == 49: return ["XINFO", "GROUPS", key("x")]
    if c == 50: return ["XCLAIM", key("x"), random.choice(["g", "g2"]), "c2", "0", sid(), "JUSTID"]
    if c == 51: return ["COPY", random.choice(OTHER), random.choice(OTHER)] + random.choice([[], ["REPLACE"]])
    if c == 52: return [random.choice(["RENAME", "RENAMENX"]), random.choice(OTHER), random.choice(OTHER)]
    if c == 53: return [random.choice(["TYPE", "EXISTS", "XLEN", "LLEN", "SCARD", "HLEN"]), random.choice(OTHER)]
    return ["DEL", random.choice(OTHER)]


def group_episode():
    """Consumer groups at work on one fresh stream: a few entries, a group or two, reads, acks,
    claims and deletions with IDs that exist, so the PEL, delivery counts, entries-read and lag
    are exercised (nothing that reports idle times, which depend on Redis's clock)."""
    n = random.randint(1, 6)
    ids = ["1-%d" % i for i in range(1, n + 1)]
    out = [["DEL", "x1"]]
    out += [["XADD", "x1", i, "f", i] for i in ids]
    some = lambda: random.sample(ids + ["9-9"], random.randint(1, min(3, n + 1)))
    groups = ["g", "g2"]
    for g in groups:
        out.append(["XGROUP", "CREATE", "x1", g, random.choice(["0", "$", random.choice(ids)])] +
                   random.choice([[], ["ENTRIESREAD", str(random.randint(-1, n + 1))]]))
    for _ in range(random.randint(4, 16)):
        g, c = random.choice(groups), random.choice(["c1", "c2", "c3"])
        r = random.random()
        if r < 0.25:
            out.append(["XREADGROUP", "GROUP", g, c] + random.choice([[], ["COUNT", str(random.randint(1, 3))], ["NOACK"]]) +
                       ["STREAMS", "x1", random.choice([">", ">", "0", random.choice(ids)])])
        elif r < 0.4:
            out.append(["XACK", "x1", g] + some())
        elif r < 0.55:
            opts = random.choice([[], ["JUSTID"], ["RETRYCOUNT", "5"], ["FORCE"], ["LASTID", random.choice(ids)], ["FORCE", "JUSTID"]])
            out.append(["XCLAIM", "x1", g, c, "0"] + some() + opts)
        elif r < 0.65:
            out.append(["XAUTOCLAIM", "x1", g, c, "0", random.choice(["0", "-", random.choice(ids)])] +
                       random.choice([[], ["COUNT", str(random.randint(1, 3))], ["JUSTID"]]))
        elif r < 0.72:
            out.append(["XDEL", "x1"] + some())
        elif r < 0.77:
            out.append(["XADD", "x1", "2-%d" % random.randint(0, 9), "f", "new"])
        elif r < 0.82:
            out.append(["XGROUP", random.choice(["DELCONSUMER", "CREATECONSUMER"]), "x1", g, c])
        elif r < 0.86:
            out.append(["XGROUP", "SETID", "x1", g, random.choice(["0", "$"] + ids)] +
                       random.choice([[], ["ENTRIESREAD", str(random.randint(-1, n))]]))
        elif r < 0.9:
            out.append(["XTRIM", "x1", "MAXLEN", str(random.randint(0, n))])
        else:
            out.append(["XPENDING", "x1", g])
    out += [["XINFO", "GROUPS", "x1"], ["XPENDING", "x1", "g"], ["XPENDING", "x1", "g2"], ["XINFO", "STREAM", "x1"]]
    return out


def q(t):
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-./@]*", t): return t
    return '"' + t.replace('\\', '\\\\').replace('"', '\\"') + '"'


# A third argument `groups` makes consumer-group episodes instead (N of them).
out = ["# temporary differential fuzz", "apply now=1000 SET str v"]
for _ in range(int(sys.argv[2])):
    cmds = group_episode() if sys.argv[3:] == ["groups"] else [cmd()]
    for c in cmds:
        out.append("apply now=1000 " + " ".join(q(t) for t in c))
out.append("---")
out.append("")
print("\n".join(out))
