#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus (small on purpose: AFL reads every seed each cycle). The images are
# made by the real Linux tools; the frames and requests are hand-written; the audit logs by Photon's own log writer.
#   fuzz/make-corpus.sh      (needs dosfstools, mtools, e2fsprogs; builds fuzz/Photon.Fuzz for the audit seeds)
set -euo pipefail
cd "$(dirname "$0")"
c=corpus
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo hello > "$tmp/h.txt"
export MTOOLS_SKIP_CHECK=1

# FAT12, 64 KiB: a file, a directory, a long name.
rm -f $c/fat/*
mkfs.fat -C -n FUZZ $c/fat/fat12-files.img 64 >/dev/null
mcopy -i $c/fat/fat12-files.img "$tmp/h.txt" ::/HELLO.TXT
mmd -i $c/fat/fat12-files.img ::/Sub
mcopy -i $c/fat/fat12-files.img "$tmp/h.txt" "::/Sub/A long name.txt"
mkfs.fat -C -n EMPTY -s 1 -r 16 $c/fat/fat12-empty.img 40 >/dev/null

# ext4 (extents, 1 KiB blocks, 128 KiB, no journal: a journal is at least 1 MiB) and ext2, with a file and a directory.
rm -f $c/ext4/*
printf 'mkdir d\nwrite %s d/f\nwrite %s top\nsymlink link top\n' "$tmp/h.txt" "$tmp/h.txt" > "$tmp/script"
mke2fs -q -F -t ext4 -b 1024 -N 16 -O ^has_journal,^resize_inode $c/ext4/ext4-files.img 128
debugfs -w -f "$tmp/script" $c/ext4/ext4-files.img >/dev/null 2>&1
mke2fs -q -F -t ext2 -b 1024 -N 16 -O ^resize_inode $c/ext4/ext2-files.img 128
debugfs -w -f "$tmp/script" $c/ext4/ext2-files.img >/dev/null 2>&1

# ext4 journal: a 3 MiB ext4 (metadata_csum, 1 KiB blocks, no flex_bg so the 1 MiB journal is one extent) whose
# journal Linux's debugfs filled (journal_open -c / journal_write / journal_close). The first dirty image is the
# harness's fixed base (Targets/journal-base.img.gz); each seed is the journal after its superblock, trailing zero
# blocks cut: one committed transaction, two with a revoke between, one committed then one uncommitted.
rm -f $c/journal/*; mkdir -p $c/journal
j=$tmp/journal; mkdir -p $j
mke2fs -q -F -t ext4 -b 1024 -N 16 -O ^resize_inode,^flex_bg -J size=1 $j/clean.img 3072
debugfs -R "stat <8>" $j/clean.img 2>/dev/null | grep -q '(0-1023):' || { echo "journal is not one extent"; exit 1; }
cp $j/clean.img $j/after.img
debugfs -w -R "mkdir /logged" $j/after.img >/dev/null 2>&1
debugfs -w -R "write $tmp/h.txt /logged/f" $j/after.img >/dev/null 2>&1
changed=$({ cmp -l $j/clean.img $j/after.img || true; } | awk '{ b = int(($1 - 1) / 1024); if (!(b in s)) { s[b]; printf "%s%d", n++ ? "," : "", b } }')
python3 - "$j" "$changed" <<'PY'
import sys
d, blocks = sys.argv[1], [int(b) for b in sys.argv[2].split(',')]
after = open(d + '/after.img', 'rb').read()
open(d + '/data', 'wb').write(b''.join(after[b * 1024:(b + 1) * 1024] for b in blocks))
open(d + '/half', 'wb').write(b''.join(after[b * 1024:(b + 1) * 1024] for b in blocks[:2]))
PY
first=${changed%%,*}; second=$(echo "$changed" | cut -d, -f2)
journal() {  # journal NAME SCRIPT: a copy of clean.img with SCRIPT's transactions in its journal; the seed is cut out
  cp $j/clean.img $j/$1.img
  printf "$2" > $j/script; debugfs -w -f $j/script $j/$1.img >/dev/null 2>&1
  python3 - $j/$1.img $c/journal/$1 <<'PY'
import sys, subprocess
img = open(sys.argv[1], 'rb').read()
start = img.find(bytes.fromhex('c03b3998'))          # the journal superblock: block 0 of the journal
log = bytearray(img[start + 1024:start + 1024 * 1024])
while log[-1024:] == bytes(1024): del log[-1024:]
open(sys.argv[2], 'wb').write(log)
PY
}
journal committed "jo -c\njw -b $changed $j/data\njc\n"
journal revoked "jo -c\njw -b $first,$second $j/half\njw -r $first $j/half\njw -b $changed $j/data\njc\n"
journal uncommitted "jo -c\njw -b $changed $j/data\njw -b $first,$second -c $j/half\njc\n"
gzip -9n < $j/committed.img > Photon.Fuzz/Targets/journal-base.img.gz

# HTTP request heads.
printf 'GET / HTTP/1.1\r\nHost: photon\r\n\r\n' > $c/http/get
printf 'HEAD /status HTTP/1.0\r\n\r\n' > $c/http/head
printf 'POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc' > $c/http/post

# Frames (2-byte length prefix each): ARP request, ICMP echo, UDP to :53, TCP SYN to :80.
python3 - "$c/frames" <<'PY'
import struct, sys
out = sys.argv[1]
me, peer = bytes([2,0,0,0,0,2]), bytes([2,0,0,0,0,9])
a, b = bytes([10,9,0,1]), bytes([10,9,0,2])
def csum(data):
    if len(data) % 2: data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data)//2), data))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ip(proto, payload):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20+len(payload), 1, 0, 64, proto, 0, a, b)
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return me + peer + b'\x08\x00' + h + payload
def transport(proto, seg):
    pseudo = a + b + struct.pack('!BBH', 0, proto, len(seg))
    return csum(pseudo + seg)
def frame(*fs): return b''.join(struct.pack('!H', len(f)) + f for f in fs)
icmp = struct.pack('!BBHHH', 8, 0, 0, 7, 1) + b'ping' * 8
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
udp = struct.pack('!HHHH', 1234, 53, 8+5, 0) + b'query'
udp = udp[:6] + struct.pack('!H', transport(17, udp)) + udp[8:]
tcp = struct.pack('!HHIIBBHHH', 40000, 80, 1000, 0, 5 << 4, 0x02, 65535, 0, 0)
tcp = tcp[:16] + struct.pack('!H', transport(6, tcp)) + tcp[18:]
arp = me + peer + b'\x08\x06' + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + peer + a + bytes(6) + b
open(out + '/arp', 'wb').write(frame(arp))
open(out + '/icmp-echo', 'wb').write(frame(ip(1, icmp)))
open(out + '/udp', 'wb').write(frame(ip(17, udp)))
open(out + '/tcp-syn', 'wb').write(frame(ip(6, tcp)))
open(out + '/mixed', 'wb').write(frame(arp, ip(1, icmp), ip(6, tcp), ip(17, udp)))
PY

# Wasm host calls: each record is one byte choosing an export of the fixed guest (the index into
# WasmHostCallGuest.Calls), then its i32 arguments little-endian (an i64 is two i32 halves, low first). Handles are
# what a fresh instance gets (slot | generation 1 << 20; its grants hold slots 0 and 1): AFL finds the rest.
rm -f $c/wasm/*; mkdir -p $c/wasm
python3 - "$c/wasm" <<'PY'
import struct, sys
out = sys.argv[1]
names = ("log clock_now open region_read region_write ipc_send ipc_recv file_open file_read file_write file_close "
         "args_sizes_get args_get environ_sizes_get environ_get clock_res_get clock_time_get random_get poll_oneoff "
         "fd_read fd_pread fd_write fd_pwrite fd_seek fd_tell fd_close fd_fdstat_get fd_fdstat_set_flags fd_filestat_get "
         "fd_filestat_set_size fd_readdir fd_prestat_get fd_prestat_dir_name fd_sync path_open path_filestat_get "
         "path_create_directory path_unlink_file path_remove_directory path_rename store32 load32").split()
def call(name, *args): return bytes([names.index(name)]) + b''.join(struct.pack('<i', a) for a in args)
H = 1 << 20
iov = call('store32', 0, 2048) + call('store32', 4, 64)            # one iovec at 0: 64 bytes at 2048
all_rights = (0x1fffffff, 0)                                        # an i64 as low, high halves
seeds = {
  'photon-calls': call('log', 1024, 7) + call('clock_now') + call('open', 1024, 7, 3) + call('region_write', H + 2, 0, 2048, 64)
      + call('region_read', H + 2, 8, 4096, 64) + call('open', 1040, 5, 3) + call('ipc_send', H + 3, 1024, 7)
      + call('ipc_recv', H + 3, 4096, 256) + call('file_open', 1056, 15, 3, 0) + call('file_read', H + 4, 0, 4096, 100)
      + call('file_write', H + 4, 3, 1024, 20) + call('file_close', H + 4),
  'wasi-process': call('args_sizes_get', 16, 20) + call('args_get', 64, 128) + call('environ_sizes_get', 16, 20)
      + call('environ_get', 64, 128) + call('clock_res_get', 1, 16) + call('clock_time_get', 0, 1000, 0, 16)
      + call('random_get', 256, 32) + iov + call('fd_write', 1, 0, 1, 8) + call('fd_read', 0, 0, 1, 8),
  'wasi-files': call('fd_prestat_get', 3, 16) + call('fd_prestat_dir_name', 3, 32, 5) + call('fd_fdstat_get', 3, 64)
      + call('path_open', 3, 1, 1088, 9, 0, *all_rights, *all_rights, 0, 16) + iov + call('fd_read', 4, 0, 1, 8)
      + call('fd_seek', 4, 2, 0, 0, 8) + call('fd_tell', 4, 8) + call('fd_pwrite', 4, 0, 1, 100, 0, 8)
      + call('fd_pread', 4, 0, 1, 0, 0, 8) + call('fd_filestat_get', 4, 64) + call('fd_filestat_set_size', 4, 10, 0)
      + call('fd_sync', 4) + call('fd_fdstat_set_flags', 4, 1) + call('fd_close', 4)
      + call('fd_readdir', 3, 4096, 1024, 0, 0, 8) + call('path_filestat_get', 3, 1, 1104, 19, 64)
      + call('path_create_directory', 3, 1136, 7) + call('path_rename', 3, 1088, 9, 3, 1136, 7)
      + call('path_remove_directory', 3, 1136, 7) + call('path_unlink_file', 3, 1088, 9),
  'wasi-poll': call('store32', 512, 7) + call('store32', 520, 0) + call('store32', 528, 0) + call('store32', 532, 1000)
      + call('store32', 536, 0) + call('store32', 544, 0) + call('poll_oneoff', 512, 1024, 1, 8),
}
for name, data in seeds.items(): open(out + '/' + name, 'wb').write(data)
PY

# DNS responses to "www.example.org A", ID 0x1234: an answer, a CNAME chain, compression inside CNAME data, TC, NXDOMAIN.
rm -f $c/dns/*; mkdir -p $c/dns
python3 - "$c/dns" <<'PY'
import struct, sys
def name(h): return b''.join(bytes([len(l)]) + l.encode() for l in h.split('.')) + b'\0'
def resp(answers, count, flags=0x8180): return struct.pack('>HHHHHH', 0x1234, flags, 1, count, 0, 0) + name('www.example.org') + struct.pack('>HH', 1, 1) + answers
def rec(n, t, ttl, data): return n + struct.pack('>HHIH', t, 1, ttl, len(data)) + data
q = b'\xc0\x0c'
seeds = {
    'a': resp(rec(q, 1, 60, bytes([10, 0, 0, 7])), 1),
    'cname-chain': resp(rec(q, 5, 300, name('web.example.org')) + rec(name('web.example.org'), 5, 60, name('cdn.example.net')) + rec(name('cdn.example.net'), 1, 120, bytes([10, 0, 0, 8])), 3),
    'compressed-cname': resp(rec(q, 5, 300, b'\x03web\xc0\x10') + rec(b'\xc0\x2d', 1, 60, bytes([1, 2, 3, 4])), 2),
    'truncated': resp(b'', 0, 0x8380),
    'nxdomain': resp(b'', 0, 0x8183),
}
for k, v in seeds.items(): open(f'{sys.argv[1]}/{k}', 'wb').write(v)
PY

# DHCP replies to transaction 0x1234abcd of 02:00:00:00:00:01 (what DhcpReplyTarget parses): an OFFER, an ACK with
# T1/T2 and three DNS servers, a NAK, and an ACK with an infinite lease.
rm -f $c/dhcp/*; mkdir -p $c/dhcp
python3 - "$c/dhcp" <<'PY'
import struct, sys
def reply(opts, yi=bytes([10, 0, 0, 50])):
    m = bytes([2, 1, 6, 0]) + struct.pack('>IHH', 0x1234abcd, 0, 0x8000) + bytes(4) + yi + bytes(8)
    m += bytes([2, 0, 0, 0, 0, 1]) + bytes(10) + bytes(64 + 128) + struct.pack('>I', 0x63825363)
    return m + b''.join(bytes([k, len(v)]) + v for k, v in opts) + b'\xff'
ip = lambda *a: bytes(a)
sid = (54, ip(10, 0, 0, 1)); mask = (1, ip(255, 255, 255, 0)); gw = (3, ip(10, 0, 0, 1))
seeds = {
    'offer': reply([(53, b'\x02'), sid, (51, struct.pack('>I', 3600)), mask, gw, (6, ip(10, 0, 0, 1))]),
    'ack': reply([(53, b'\x05'), sid, (51, struct.pack('>I', 120)), (58, struct.pack('>I', 60)), (59, struct.pack('>I', 105)), mask, gw, (6, ip(10, 0, 0, 1) + ip(10, 0, 0, 2) + ip(10, 0, 0, 3) + ip(10, 0, 0, 4))]),
    'nak': reply([(53, b'\x06'), sid], yi=bytes(4)),
    'infinite': reply([(53, b'\x05'), sid, (51, b'\xff\xff\xff\xff'), mask]),
}
for k, v in seeds.items(): open(f'{sys.argv[1]}/{k}', 'wb').write(v)
PY

# IPv6 packets for Ipv6PacketTarget (to the stack at fd00::2, MAC 02:00:00:00:00:02; the harness fixes ICMPv6
# checksums): an echo request, a neighbour solicitation, a DAD probe, a router advertisement with a prefix and an MTU,
# a neighbour advertisement, hop-by-hop + destination options before ICMPv6, two fragments, an unknown next header.
rm -f $c/ipv6/*; mkdir -p $c/ipv6
python3 - "$c/ipv6" <<'PY'
import struct, sys, ipaddress
A = lambda s: ipaddress.IPv6Address(s).packed
peer, me, ll = A('fd00::1'), A('fd00::2'), A('fe80::1')
def ip6(nh, payload, src=peer, dst=me, hl=64):
    return struct.pack('>IHBB', 6 << 28, len(payload), nh, hl) + src + dst + payload
mac = bytes([2, 0, 0, 0, 0, 1])
sn = lambda a: A('ff02::1:ff00:0')[:13] + a[13:]
echo = bytes([128, 0, 0, 0, 0x50, 0x48, 0, 1]) + bytes(range(32))
ns = bytes([135, 0, 0, 0]) + bytes(4) + me + bytes([1, 1]) + mac
dad = bytes([135, 0, 0, 0]) + bytes(4) + me
na = bytes([136, 0, 0, 0, 0x60, 0, 0, 0]) + peer + bytes([2, 1]) + mac
pio = bytes([3, 4, 64, 0xC0]) + struct.pack('>II', 86400, 14400) + bytes(4) + A('2001:db8:1::')
ra = bytes([134, 0, 0, 0, 64, 0]) + struct.pack('>HII', 1800, 0, 0) + pio + bytes([5, 1, 0, 0]) + struct.pack('>I', 1400) + bytes([1, 1]) + mac
hbh = bytes([60, 0, 5, 2, 0, 0, 1, 0])           # next: dest opts; router alert, PadN
dst = bytes([58, 0, 1, 4, 0, 0, 0, 0])           # next: ICMPv6; PadN
frag1 = bytes([58, 0]) + struct.pack('>HI', 0 | 1, 7) + echo[:24]
frag2 = bytes([58, 0]) + struct.pack('>HI', 24 << 0 | 0, 7) + echo[24:]
seeds = {
    'echo': ip6(58, echo),
    'ns': ip6(58, ns, hl=255, dst=sn(me)),
    'dad': ip6(58, dad, src=bytes(16), dst=sn(me), hl=255),
    'ra': ip6(58, ra, src=ll, dst=A('ff02::1'), hl=255),
    'na': ip6(58, na, hl=255),
    'ext-chain': ip6(0, hbh + dst + echo),
    'fragments': (lambda a, b: a + b)(ip6(44, frag1), ip6(44, frag2)),
    'unknown-next': ip6(253, bytes(16)),
}
for k, v in seeds.items(): open(f'{sys.argv[1]}/{k}', 'wb').write(v)
PY

# Host-offload frames (vnethdr): the frames seeds again, each behind a 12-byte virtio_net_hdr as TAP/AF_PACKET give it —
# none, DATA_VALID, and NEEDS_CSUM at the transport checksum; plus one coalesced 20 KB TCP segment (gso TCPV4).
rm -rf $c/vnethdr; mkdir -p $c/vnethdr
python3 - "$c/frames" "$c/vnethdr" <<'PY'
import os, struct, sys
src, out = sys.argv[1], sys.argv[2]
def frames(blob):
    at = 0
    while at + 2 <= len(blob):
        n = min(struct.unpack('!H', blob[at:at+2])[0], len(blob) - at - 2)
        yield blob[at+2:at+2+n]; at += 2 + n
def hdr(flags=0, gso=0, hdr_len=0, gso_size=0, start=0, off=0):
    return struct.pack('<BBHHHHH', flags, gso, hdr_len, gso_size, start, off, 0)
def csum_field(f):  # (start, offset) of the TCP/UDP checksum of an IPv4 frame, or None
    if len(f) < 34 or f[12:14] != b'\x08\x00': return None
    ihl = (f[14] & 15) * 4
    return (14 + ihl, {6: 16, 17: 6}.get(f[23])) if f[23] in (6, 17) else None
for name in sorted(os.listdir(src)):
    for kind, make in (('plain', lambda f: hdr()), ('valid', lambda f: hdr(flags=2)),
                       ('partial', lambda f: hdr(flags=1, start=csum_field(f)[0], off=csum_field(f)[1]) if csum_field(f) else hdr())):
        with open(os.path.join(src, name), 'rb') as fh: blob = fh.read()
        msgs = [make(f) + f for f in frames(blob)]
        with open(os.path.join(out, f'{name}-{kind}'), 'wb') as o:
            for m in msgs: o.write(struct.pack('!H', len(m)) + m)
# One 20 KB segment to 10.9.0.2:80 with gso TCPV4 and DATA_VALID (its checksum is not computed: the host vouched).
me, peer = bytes([2,0,0,0,0,2]), bytes([2,0,0,0,0,9])
payload = bytes(20000)
tcp = struct.pack('!HHIIBBHHH', 40000, 80, 1001, 0, 5 << 4, 0x18, 65535, 0, 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, bytes([10,9,0,1]), bytes([10,9,0,2]))
frame = me + peer + b'\x08\x00' + ip + tcp
m = hdr(flags=2, gso=1, hdr_len=54, gso_size=1448) + frame
with open(os.path.join(out, 'tso-segment'), 'wb') as o: o.write(struct.pack('!H', len(m)) + m)
PY

# Audit logs written by HashChainedAuditLog (plain and keyed, with and without the head record).
rm -f $c/audit/*
dotnet build Photon.Fuzz -c Release -warnaserror -nologo -clp:ErrorsOnly
dotnet Photon.Fuzz/bin/Release/net10.0/Photon.Fuzz.dll audit --make-seeds $c/audit
du -sh $c
