r"""Checks a goldenscript of crates/kv/tests/scripts against a real Redis.

Feeds the script's apply/query commands, in order, to a redis-server (after FLUSHALL) and
compares each reply, formatted as tests/scripts.rs's show() formats ours, with the script's
expected output; prints every difference. Quoted arguments may use \xNN escapes below \x80.
Scripts that rely on time (TTLs) or on our random picks are not comparable.

Keyspace notifications are compared too: a second connection PSUBSCRIBEs `__key*__:*`, and
after each command the messages it saw (up to a PING's answer) are formatted as the script's
indented message lines; only the script's lines on those channels are compared (the script
also shows a Lua script's PUBLISHes, which this subscriber does not see).

    redis-server --port 16479 --save '' --maxmemory 1gb &
    python3 crates/kv/tests/tools/redis_check.py crates/kv/tests/scripts/zsets 16479
"""
import shlex, socket, sys

def enc(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
    def cmd(self, args):
        self.s.sendall(enc(args))
        return self.read()
    def read(self):
        line = self.f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"+": return ("simple", rest.decode())
        if t == b"-": return ("error", rest.decode())
        if t == b":": return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            if n < 0: return ("nil",)
            data = self.f.read(n + 2)[:-2]
            return ("bulk", data)
        if t == b"*":
            n = int(rest)
            if n < 0: return ("nilarr",)
            return ("arr", [self.read() for _ in range(n)])
        raise Exception(line)

def show_bytes(b):
    out = '"'
    for c in b:
        if c == 0x22: out += '\\"'
        elif c == 0x5c: out += '\\\\'
        elif 0x20 <= c <= 0x7e: out += chr(c)
        else: out += "\\x%02x" % c
    return out + '"'

def show(r):
    k = r[0]
    if k == "simple": return r[1]
    if k == "error": return "(error) " + r[1]
    if k == "int": return "(integer) %d" % r[1]
    if k == "bulk": return show_bytes(r[1])
    if k == "nil": return "(nil)"
    if k == "nilarr": return "(nil array)"
    return "[" + ", ".join(show(x) for x in r[1]) + "]"

def show_args(args):
    out = []
    for a in args:
        plain = len(a) > 0 and all(0x21 <= c <= 0x7e and c not in (0x22, 0x5c) for c in a)
        out.append(a.decode() if plain else show_bytes(a))
    return " ".join(out)

KEY_CHANNELS = ('    "__keyspace@0__:', '    "__keyevent@0__:', "    __keyspace@0__:", "    __keyevent@0__:")

def notifications(sub):
    """The keyspace notifications `sub` received since the last call, as message lines."""
    sub.s.sendall(enc([b"PING"]))
    out = []
    while True:
        m = sub.read()
        if m[1][0][1] == b"pong":
            return out
        out.append("    " + show_args([m[1][2][1], m[1][3][1]]))

def main():
    path, port = sys.argv[1], int(sys.argv[2])
    c = Conn(port)
    c.cmd([b"FLUSHALL"])
    c.cmd([b"CONFIG", b"SET", b"notify-keyspace-events", b""])
    sub = Conn(port)
    sub.cmd([b"PSUBSCRIBE", b"__key*__:*"])
    lines = open(path).read().split("\n")
    inputs, expected = [], []
    for line in lines:
        if line.startswith("apply ") or line.startswith("query "):
            parts = shlex.split(line)[1:]
            args = [(p.encode().decode("unicode_escape") if "\\" in p else p).encode() for p in parts if not p.startswith("now=")]
            inputs.append(args)
        elif " → " in line:
            expected.append(line)
        elif line.startswith(KEY_CHANNELS) and expected:
            expected[-1] += "\n" + line
    bad = 0
    for args, exp in zip(inputs, expected):
        got = show_args(args) + " → " + show(c.cmd(args))
        for message in notifications(sub):
            got += "\n" + message
        if got != exp:
            bad += 1
            print("ours:  " + exp + "\nredis: " + got)
    print(f"{path}: {len(inputs)} commands, {len(expected)} outputs, {bad} differ")
main()
