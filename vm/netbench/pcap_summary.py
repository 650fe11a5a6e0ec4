#!/usr/bin/env python3
"""Summarises a TCP bulk transfer from `tcpdump -tt -n -r FILE` text (read on stdin) for vm/netbench.sh: which side
holds the transfer up. For each connection that carried data: rate, segments, the receiver's advertised window
(scaled), bytes in flight when an ACK arrives, and every idle gap of 2 ms or more classified by who was due to act:
"sender" (the last packet was the receiver's ACK and the next is the sender's data: the sender sat on an open window)
or "receiver" (the last packet was data and the next is an ACK: the receiver sat on data). Usage:
    tcpdump -tt -n -r x.pcap | python3 pcap_summary.py LABEL
"""
import re
import sys
from collections import defaultdict

label = sys.argv[1] if len(sys.argv) > 1 else "capture"
line_re = re.compile(r"^(\d+\.\d+) IP (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\](.*)$")
conns = defaultdict(list)
wscale = {}
for line in sys.stdin:
    m = line_re.match(line.strip())
    if not m:
        continue
    t, sa, sp, da, dp, flags, rest = m.groups()
    src, dst = f"{sa}:{sp}", f"{da}:{dp}"
    key = tuple(sorted([src, dst]))
    seq = re.search(r" seq (\d+):(\d+)", rest)
    ack = re.search(r" ack (\d+)", rest)
    win = re.search(r" win (\d+)", rest)
    length = re.search(r" length (\d+)", rest)
    ws = re.search(r"wscale (\d+)", rest)
    if "S" in flags and ws:
        wscale[src] = int(ws.group(1))
    conns[key].append(dict(t=float(t), src=src, dst=dst, flags=flags,
                           seq=(int(seq.group(1)), int(seq.group(2))) if seq else None,
                           ack=int(ack.group(1)) if ack else None,
                           win=int(win.group(1)) if win else None,
                           length=int(length.group(1)) if length else 0))

def pct(values, p):
    if not values:
        return 0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]

for key, pkts in conns.items():
    by_src = defaultdict(int)
    for p in pkts:
        by_src[p["src"]] += p["length"]
    sender = max(by_src, key=by_src.get)
    if by_src[sender] < 100_000:
        continue
    receiver = key[0] if key[1] == sender else key[1]
    data = [p for p in pkts if p["src"] == sender and p["length"] > 0]
    acks = [p for p in pkts if p["src"] == receiver and p["ack"] is not None]
    t0, t1 = data[0]["t"], data[-1]["t"]
    total = by_src[sender]
    rws = wscale.get(receiver, 0) if sender in wscale else 0
    wins = [p["win"] << rws for p in acks if p["win"] is not None]
    # tcpdump prints relative sequence numbers after the SYN: seq a:b of data, ack n of the receiver.
    highest, inflight = 0, []
    for p in sorted(pkts, key=lambda p: p["t"]):
        if p["src"] == sender and p["seq"]:
            highest = max(highest, p["seq"][1])
        elif p["src"] == receiver and p["ack"] is not None and highest:
            inflight.append(highest - p["ack"])
    gaps = defaultdict(lambda: [0, 0.0])
    seq_pkts = sorted([p for p in pkts if p["length"] > 0 or p["src"] == receiver], key=lambda p: p["t"])
    for a, b in zip(seq_pkts, seq_pkts[1:]):
        g = b["t"] - a["t"]
        if g < 0.002 or a["t"] < t0 or b["t"] > t1:
            continue
        if a["src"] == receiver and b["src"] == sender:
            who = "sender (ack -> data)"
        elif a["src"] == sender and b["src"] == receiver:
            who = "receiver (data -> ack)"
        elif a["src"] == sender:
            who = "sender (data -> data)"
        else:
            who = "receiver (ack -> ack)"
        gaps[who][0] += 1
        gaps[who][1] += g
    # Receiver's reaction: time from a data segment to the first ACK covering its end.
    pending, react = [], []
    for p in sorted(pkts, key=lambda p: p["t"]):
        if p["src"] == sender and p["seq"] and p["length"] > 0:
            pending.append((p["seq"][1], p["t"]))
        elif p["src"] == receiver and p["ack"] is not None:
            while pending and pending[0][0] <= p["ack"]:
                react.append(p["t"] - pending.pop(0)[1])
    dur = max(t1 - t0, 1e-9)
    print(f"{label}: {sender} -> {receiver}: {total} B in {dur:.2f} s = {total / dur / 1e6:.2f} MB/s; "
          f"{len(data)} data segments (avg {total // max(1, len(data))} B), {len(acks)} ACKs from the receiver")
    print(f"{label}:   receiver window (wscale {rws}): median {pct(wins, 0.5)} min {min(wins) if wins else 0} max {max(wins) if wins else 0} B; "
          f"in flight at each ACK: median {pct(inflight, 0.5)} p90 {pct(inflight, 0.9)} max {max(inflight) if inflight else 0} B")
    print(f"{label}:   receiver's ACK delay after data: median {pct(react, 0.5) * 1e3:.2f} ms p90 {pct(react, 0.9) * 1e3:.2f} ms")
    idle = sum(v[1] for v in gaps.values())
    print(f"{label}:   idle gaps >= 2 ms: {idle:.2f} s of {dur:.2f} s: " +
          "; ".join(f"{k}: {v[0]} gaps, {v[1]:.2f} s" for k, v in sorted(gaps.items(), key=lambda kv: -kv[1][1])))
