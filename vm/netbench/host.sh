# Sourced by vm/run.sh --netbench: netbench_run, called by the host side once the guest said NET-READY (and before it
# fetches /done). In netns $netns it times the same transfers against Photon (10.77.0.2: its stack on its virtio-net
# driver) and Linux (10.78.0.2: virtio_net): guest->host = curl of a 8 MiB /bulk (speed_download), host->guest = 8 MiB
# of zeros through `nc -N` to port 5001 until the guest closes.
# Paired (vm13): NETBENCH_PAIRS pairs (default 10; NETBENCH_ROUNDS is the old name), each one transfer per side and
# direction back to back, the side that goes first alternating from pair to pair (ABBA…), so QEMU's device time —
# which moves with the shared host's load by 10x between minutes — is nearly the same for both halves of a pair. The
# figure is the median of the per-pair ratios with its quartiles, range and count. Around every transfer the guest's
# /proc/stat (Linux's httpd CGI, vm/netbench/guest.sh) gives the context switches (`ctxt`, what `perf stat -e
# context-switches -a` counts) and interrupts (`intr`) the whole guest took for it: per MiB, the same measure for both
# drivers, insensitive to the host's load. An idle sample first gives the background rate.
# It writes the table to $out/netbench-table.md, one summary line per direction to $out/netbench-summary.txt and each
# sample to $out/netbench.log. With tcpdump on the host, pair 1 of each side is captured on its TAP
# ($out/netbench-<side>.pcap, 128-byte snaps) and summarised by vm/netbench/pcap_summary.py (who sat idle: sender or
# receiver; windows; bytes in flight), and `ss -tin` is sampled every 0.2 s during it ($out/netbench-<side>-ss.log).
netbench_stat() {   # "ctxt intr photon_ctxt" of the whole guest and of Photon's process, read through Linux's NIC
  ip netns exec $netns curl -s --max-time 20 http://10.78.0.2/cgi-bin/stat 2>/dev/null | awk '/^ctxt/{c=$2} /^intr/{i=$2} /^photon_ctxt/{p=$2} END{print c+0, i+0, p+0}'
}
netbench_one() {    # side dir pair: one transfer, its rate and the guest's context switches / interrupts during it
  local side=$1 dir=$2 pair=$3 ip a b bps t0 t1
  [ $side = photon ] && ip=10.77.0.2 || ip=10.78.0.2
  a=$(netbench_stat)
  if [ $dir = rx-by-host ]; then
    bps=$(ip netns exec $netns curl -sS -o /dev/null --max-time 120 -w '%{speed_download}' "http://$ip/bulk" 2>> "$out/netbench.log" || echo 0)
  else
    t0=$(date +%s%N)
    if head -c $bytes /dev/zero | ip netns exec $netns timeout 120 nc -N $ip 5001 2>> "$out/netbench.log"; then
      t1=$(date +%s%N); bps=$(( bytes * 1000000000 / (t1 - t0) ))
    else bps=0; fi
  fi
  b=$(netbench_stat)
  echo "$side $dir $pair $bps $a $b" >> "$out/netbench.log"
}
netbench_run() {
  local pairs=${NETBENCH_PAIRS:-${NETBENCH_ROUNDS:-10}} bytes=$((8 << 20)) r side dir dev ip cap ssp a b order
  : > "$out/netbench.log"; : > "$out/netbench-pcap.txt"
  ip netns exec $netns curl -s --max-time 20 http://10.78.0.2/cgi-bin/threads > "$out/netbench-threads-0.txt" 2>/dev/null || true
  a=$(netbench_stat); sleep 5; b=$(netbench_stat)
  echo "idle - 0 5 $a $b" >> "$out/netbench.log"
  ip netns exec $netns curl -s --max-time 20 http://10.78.0.2/cgi-bin/threads > "$out/netbench-threads-1.txt" 2>/dev/null || true
  # Which of Photon's threads switch while the guest is idle (the ~5 s above plus the two reads): the top five.
  awk 'NR == FNR { c[$1] = $3; next } ($1 in c) { printf "%d %s(%s)\n", $3 - c[$1], $2, $1 }' "$out/netbench-threads-0.txt" "$out/netbench-threads-1.txt" \
    | sort -rn | head -5 | awk '{ s = s (s ? ", " : "") $2 " " $1 } END { print "photon threads switching while idle (~5 s): " s }' > "$out/netbench-idle-threads.txt"
  say "$(cat "$out/netbench-idle-threads.txt")"
  for r in $(seq "$pairs"); do
    [ $((r % 2)) = 1 ] && order="photon linux" || order="linux photon"
    for side in $order; do
      [ $side = photon ] && dev=pvm0 ip=10.77.0.2 || dev=pvm1 ip=10.78.0.2
      cap=""; ssp=""
      if [ "$r" = 1 ] && command -v tcpdump >/dev/null; then
        ip netns exec $netns tcpdump -i $dev -s 128 -U -w "$out/netbench-$side.pcap" tcp 2>/dev/null & cap=$!
        ( while :; do date +%s.%N; ip netns exec $netns ss -tin dst $ip; sleep 0.2; done ) > "$out/netbench-$side-ss.log" 2>&1 & ssp=$!
        sleep 1
      fi
      for dir in rx-by-host tx-by-host; do netbench_one $side $dir $r; done
      if [ -n "$cap" ]; then
        sleep 1; kill $ssp $cap 2>/dev/null; wait $cap 2>/dev/null || true
        tcpdump -tt -n -r "$out/netbench-$side.pcap" 2>/dev/null | python3 "$(dirname "${BASH_SOURCE[0]}")/pcap_summary.py" "pcap $side" \
          >> "$out/netbench-pcap.txt" 2>&1 || true
      fi
    done
  done
  if [ -s "$out/netbench-pcap.txt" ]; then say "what paces each transfer (pair 1, from tcpdump on the TAPs):"; cat "$out/netbench-pcap.txt" >&2; fi
  awk -v pairs="$pairs" -v mib=$((bytes >> 20)) -v table="$out/netbench-table.md" -v summary="$out/netbench-summary.txt" '
    function sort(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t } }
    function q(s, p,   a, n, at, lo, hi) { n = split(s, a, " "); if (!n) return 0; sort(a, n); at = p * (n - 1) + 1; lo = int(at); hi = (lo < n ? lo + 1 : n)
                                            return a[lo] + (a[hi] - a[lo]) * (at - lo) }
    function count(s) { return split(s, _c, " ") }
    function atleast(s, t,   a, n, i, k) { n = split(s, a, " "); for (i = 1; i <= n; i++) if (a[i] + 0 >= t) k++; return k + 0 }
    $1 == "idle" { idlectxt = ($8 - $5) / 5; idleintr = ($9 - $6) / 5; idlep = ($10 - $7) / 5; next }
    NF >= 10 && ($1 == "photon" || $1 == "linux") {
      rate[$1" "$2" "$3] = $4; v[$1" "$2] = v[$1" "$2] " " $4
      if ($5 > 0 && $8 > 0) { cs[$1" "$2] = cs[$1" "$2] " " ($8 - $5) / mib; it[$1" "$2] = it[$1" "$2] " " ($9 - $6) / mib; pc[$1" "$2] = pc[$1" "$2] " " ($10 - $7) / mib } }
    END {
      name["rx-by-host"] = "guest -> host (Photon sending: curl GET /bulk)"; name["tx-by-host"] = "host -> guest (Photon receiving: nc to a sink)"
      print "| TCP, 8 MiB per transfer, " pairs " pairs | Photon (virtio-net driver + stack), median | Linux virtio_net, median | Photon / Linux per pair: median (IQR; range) | guest context switches per MiB, Photon / Linux (of them in Photon: its process) | guest interrupts per MiB, Photon / Linux |" > table
      print "|---|---|---|---|---|---|" > table
      split("tx-by-host rx-by-host", d, " ")
      for (i = 1; i <= 2; i++) {
        r = ""
        for (p = 1; p <= pairs; p++) { pv = rate["photon " d[i] " " p]; lv = rate["linux " d[i] " " p]; if (pv > 0 && lv > 0) r = r " " pv / lv }
        n = count(r); med = q(r, 0.5); lq = q(r, 0.25); uq = q(r, 0.75)
        printf "| %s | %.1f MB/s | %.1f MB/s | **%.2fx** (%.2f–%.2fx; %.2f–%.2fx), %d pairs | %.0f (%.0f) / %.0f (%.0f) | %.0f / %.0f |\n", name[d[i]],
          q(v["photon " d[i]], 0.5) / 1e6, q(v["linux " d[i]], 0.5) / 1e6, med, lq, uq, q(r, 0), q(r, 1), n,
          q(cs["photon " d[i]], 0.5), q(pc["photon " d[i]], 0.5), q(cs["linux " d[i]], 0.5), q(pc["linux " d[i]], 0.5),
          q(it["photon " d[i]], 0.5), q(it["linux " d[i]], 0.5) > table
        verdict = n == 0 ? "NO DATA" : lq >= 0.8 ? "MET (lower quartile too)" : med >= 0.8 ? "MET as a median (not the lower quartile)" : "NOT MET"
        printf "virtio-net %s: %.2fx (IQR %.2f–%.2fx, range %.2f–%.2fx, %d pairs, %d >= 0.8x) Linux'"'"'s; target >= 0.8x: %s; guest context switches per MiB %.0f vs %.0f (Photon'"'"'s process %.0f vs %.0f), interrupts per MiB %.0f vs %.0f (idle guest: %.0f switches/s, %.0f of them Photon'"'"'s, %.0f interrupts/s)\n",
          name[d[i]], med, lq, uq, q(r, 0), q(r, 1), n, atleast(r, 0.8), verdict,
          q(cs["photon " d[i]], 0.5), q(cs["linux " d[i]], 0.5), q(pc["photon " d[i]], 0.5), q(pc["linux " d[i]], 0.5),
          q(it["photon " d[i]], 0.5), q(it["linux " d[i]], 0.5), idlectxt, idlep, idleintr > summary
      }
    }' "$out/netbench.log"
  cat "$out/netbench-idle-threads.txt" >> "$out/netbench-summary.txt" 2>/dev/null || true
  say "network benchmark ($out/netbench-table.md):"; cat "$out/netbench-table.md" >&2; cat "$out/netbench-summary.txt" >&2
}
