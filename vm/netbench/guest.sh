#!/bin/sh
# Linux's side of vm/netbench.sh, run by vm/init before Photon: the second virtio-net NIC (MAC 52:54:00:12:34:57, left
# to Linux's virtio_net) on 10.78.0.2/24, busybox httpd serving a 8 MiB /bulk (what Photon serves at its /bulk), and a
# busybox nc sink on port 5001 (what Photon's VmNetSink does) — the host times the same curl and nc against both.
bb=/bin/busybox
dev=""
for d in /sys/class/net/*; do [ "$(cat "$d/address" 2>/dev/null)" = 52:54:00:12:34:57 ] && dev=${d##*/}; done
if [ -z "$dev" ]; then echo "netbench: Linux's virtio-net NIC not found"; exit 0; fi
$bb ip link set lo up
$bb ip addr add 10.78.0.2/24 dev "$dev"
$bb ip link set "$dev" up
mkdir -p /tmp/www
$bb dd if=/dev/zero of=/tmp/www/bulk bs=1M count=8 2>/dev/null
# /cgi-bin/stat: the guest's /proc/stat, read by the host around every transfer (context switches and interrupts per
# MiB, the same measure for both drivers).
mkdir -p /tmp/www/cgi-bin
# Also "photon_ctxt N": the context switches of Photon's own process, all its threads (voluntary + not), so a transfer's
# switches split into Photon's and the rest of the guest's (Linux's kernel threads, softirqs, busybox).
cat > /tmp/www/cgi-bin/stat <<'CGI'
#!/bin/busybox sh
echo "Content-Type: text/plain"
echo
/bin/busybox cat /proc/stat
n=0
for p in $(/bin/busybox pidof photon); do
  for t in /proc/$p/task/*/status; do
    while read -r k v; do case "$k" in voluntary_ctxt_switches:|nonvoluntary_ctxt_switches:) n=$((n + v)) ;; esac; done < "$t"
  done
done
echo "photon_ctxt $n"
CGI
# /cgi-bin/threads: each of Photon's threads, "tid name switches": the host diffs two of them taken while the guest is
# idle, to name the threads that wake with nothing to do.
cat > /tmp/www/cgi-bin/threads <<'CGI'
#!/bin/busybox sh
echo "Content-Type: text/plain"
echo
for p in $(/bin/busybox pidof photon); do
  for d in /proc/$p/task/*; do
    n=0
    while read -r k v; do case "$k" in voluntary_ctxt_switches:|nonvoluntary_ctxt_switches:) n=$((n + v)) ;; esac; done < "$d/status"
    echo "${d##*/} $(/bin/busybox tr ' ' _ < "$d/comm") $n"
  done
done
CGI
chmod +x /tmp/www/cgi-bin/threads
chmod +x /tmp/www/cgi-bin/stat
$bb httpd -p 80 -h /tmp/www
( while true; do $bb nc -l -p 5001 > /dev/null; done ) &
echo "netbench: Linux virtio_net on $dev 10.78.0.2 (driver $($bb readlink "/sys/class/net/$dev/device/driver" | $bb sed 's,.*/,,')), httpd :80, nc sink :5001"
