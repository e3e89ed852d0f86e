"""Differential fuzz of sorted-set, bit and LCS commands against Redis.

Prints a goldenscript of N random commands (seeded) on a few keys that collide, with odd
scores, lex bounds, flags and options, avoiding anything random or time-dependent. Use:

    python3 crates/kv/tests/tools/zset_fuzz.py SEED N > crates/kv/tests/scripts/zz_fuzz
    UPDATE_GOLDENFILES=1 cargo test -p raftkv-kv --test scripts
    python3 crates/kv/tests/tools/redis_check.py crates/kv/tests/scripts/zz_fuzz PORT
    rm crates/kv/tests/scripts/zz_fuzz
"""
import random, re, sys
random.seed(int(sys.argv[1]))
keys=["z1","z2","z3","s1","str"]
members=["a","b","c","d","e","aa","ab","b0",""]
def score():
    r=random.random()
    if r<0.6: return str(random.randint(-5,5))
    if r<0.75: return random.choice(["1.5","-0.5","0.1","inf","-inf","+inf","1e3","2.5e-3"])
    if r<0.9: return "("+str(random.randint(-5,5))
    return random.choice(["x","nan","(inf","(-inf",""])
def lex():
    r=random.random()
    if r<0.2: return random.choice(["-","+"])
    if r<0.9: return random.choice(["[","("])+random.choice(members)
    return random.choice(["a","","[","("])
def idx(): return str(random.randint(-6,6))
def m(): return random.choice(members)
def k(): return random.choice(keys)
def opts_range():
    o=[]
    for _ in range(random.randint(0,3)):
        c=random.random()
        if c<0.3: o.append("WITHSCORES")
        elif c<0.5: o+= ["LIMIT", str(random.randint(-1,3)), str(random.randint(-1,4))]
        elif c<0.7: o.append("REV")
        elif c<0.85: o.append("BYSCORE")
        else: o.append("BYLEX")
    return o
def cmd():
    c=random.randint(0,40)
    if c<8:
        flags=random.sample(["NX","XX","GT","LT","CH","INCR"], random.randint(0,2))
        pairs=[]
        for _ in range(random.randint(1,3)): pairs+=[score() if random.random()<0.2 else str(random.randint(-5,5)), m()]
        return ["ZADD",k()]+flags+pairs
    if c<10: return ["ZINCRBY",k(),random.choice([str(random.randint(-3,3)),"inf","-inf","1.5"]),m()]
    if c<12: return ["ZREM",k()]+[m() for _ in range(random.randint(1,3))]
    if c==12: return ["ZSCORE",k(),m()]
    if c==13: return ["ZMSCORE",k(),m(),m()]
    if c==14: return ["ZCARD",k()]
    if c==15: return ["ZCOUNT",k(),score(),score()]
    if c==16: return ["ZLEXCOUNT",k(),lex(),lex()]
    if c<20:
        o=opts_range()
        if "BYLEX" in o: a,b=lex(),lex()
        elif "BYSCORE" in o: a,b=score(),score()
        else: a,b=idx(),idx()
        return ["ZRANGE",k(),a,b]+o
    if c==20: return ["ZRANGESTORE",k(),k(),idx(),idx()]
    if c==21: return [random.choice(["ZRANGEBYSCORE","ZREVRANGEBYSCORE"]),k(),score(),score()]+random.choice([[],["WITHSCORES"],["LIMIT","1","2"]])
    if c==22: return [random.choice(["ZRANGEBYLEX","ZREVRANGEBYLEX"]),k(),lex(),lex()]+random.choice([[],["LIMIT","0","2"]])
    if c==23: return [random.choice(["ZRANK","ZREVRANK"]),k(),m()]
    if c==24: return [random.choice(["ZPOPMIN","ZPOPMAX"]),k()]+random.choice([[],[str(random.randint(-1,3))]])
    if c==25: return ["ZMPOP","2",k(),k(),random.choice(["MIN","MAX"])]+random.choice([[],["COUNT",str(random.randint(0,3))]])
    if c==26: return ["ZREMRANGEBYRANK",k(),idx(),idx()]
    if c==27: return ["ZREMRANGEBYSCORE",k(),score(),score()]
    if c==28: return ["ZREMRANGEBYLEX",k(),lex(),lex()]
    if c<32:
        op=random.choice(["ZUNION","ZINTER","ZDIFF","ZUNIONSTORE","ZINTERSTORE","ZDIFFSTORE","ZINTERCARD"])
        n=random.randint(1,3)
        args=[op]+([k()] if op.endswith("STORE") else [])+[str(n)]+[k() for _ in range(n)]
        if random.random()<0.4 and op not in("ZDIFF","ZDIFFSTORE","ZINTERCARD"): args+=["WEIGHTS"]+[random.choice(["1","2","-1","0","0.5","inf"]) for _ in range(n)]
        if random.random()<0.4 and op not in("ZDIFF","ZDIFFSTORE","ZINTERCARD"): args+=["AGGREGATE",random.choice(["SUM","MIN","MAX"])]
        if random.random()<0.5 and not op.endswith("STORE") and op!="ZINTERCARD": args+=["WITHSCORES"]
        if op=="ZINTERCARD" and random.random()<0.5: args+=["LIMIT",str(random.randint(0,2))]
        return args
    if c==32: return ["SADD","s1",m(),m()]
    if c==33: return ["SETBIT",random.choice(["str","b1"]),str(random.randint(0,40)),random.choice(["0","1"])]
    if c==34: return ["BITCOUNT",random.choice(["str","b1"])]+random.choice([[],[idx(),idx()],[idx(),idx(),random.choice(["BIT","BYTE"])]])
    if c==35: return ["BITPOS",random.choice(["str","b1"]),random.choice(["0","1"])]+random.choice([[],[idx()],[idx(),idx()],[str(random.randint(-20,40)),str(random.randint(-20,40)),"BIT"]])
    if c==36: return ["BITOP",random.choice(["AND","OR","XOR","NOT"]),random.choice(["b2","str"])]+random.sample(["str","b1","b2"],random.randint(1,2))
    if c==37: return ["LCS",random.choice(["str","b1","l1"]),random.choice(["str","l1","l2"])]+random.choice([[],["LEN"],["IDX"],["IDX","WITHMATCHLEN"],["IDX","MINMATCHLEN","2"]])
    if c==38: return ["SET",random.choice(["l1","l2","str"]),"".join(random.choice("abc") for _ in range(random.randint(0,8)))]
    if c==39: return ["GETBIT",random.choice(["str","b1"]),str(random.randint(0,50))]
    return ["DEL",k()]
def q(t):
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-./@]*", t): return t
    return '"'+t.replace('\\','\\\\').replace('"','\\"')+'"'
out=["# temporary differential fuzz"]
for _ in range(int(sys.argv[2])):
    out.append("apply now=1000 "+" ".join(q(t) for t in cmd()))
out.append("---"); out.append("")
print("\n".join(out))
