# Sourced by vm/run.sh --netbench: netbench_run, called by the host side once the guest said NET-READY (and before it
# fetches /done). In netns $netns it times, in interleaved rounds, the same transfers against Photon (10.77.0.2: its
# stack on its virtio-net driver) and Linux (10.78.0.2: virtio_net): guest->host = curl of a 8 MiB /bulk
# (speed_download), host->guest = 8 MiB of zeros through `nc -N` to port 5001 until the guest closes. It writes the
# medians and Photon/Linux ratios to $out/netbench-table.md and each sample to $out/netbench.log. With tcpdump on the
# host, round 1 of each side is captured on its TAP ($out/netbench-<side>.pcap, 128-byte snaps) and summarised by
# vm/netbench/pcap_summary.py (who sat idle: sender or receiver; windows; bytes in flight), and `ss -tin` is sampled
# every 0.2 s during it ($out/netbench-<side>-ss.log): the measurements behind README's "what paces the transfer".
netbench_run() {
  local rounds=${NETBENCH_ROUNDS:-3} bytes=$((8 << 20)) r side ip t0 t1 dev cap ssp
  : > "$out/netbench.log"; : > "$out/netbench-pcap.txt"
  for r in $(seq "$rounds"); do
    for side in photon linux; do
      [ $side = photon ] && ip=10.77.0.2 dev=pvm0 || ip=10.78.0.2 dev=pvm1
      cap=""; ssp=""
      if [ "$r" = 1 ] && command -v tcpdump >/dev/null; then
        ip netns exec $netns tcpdump -i $dev -s 128 -U -w "$out/netbench-$side.pcap" tcp 2>/dev/null & cap=$!
        ( while :; do date +%s.%N; ip netns exec $netns ss -tin dst $ip; sleep 0.2; done ) > "$out/netbench-$side-ss.log" 2>&1 & ssp=$!
        sleep 1
      fi
      bps=$(ip netns exec $netns curl -sS -o /dev/null --max-time 120 -w '%{speed_download}' "http://$ip/bulk" 2>> "$out/netbench.log" || echo 0)
      echo "$side rx-by-host $r $bps" >> "$out/netbench.log"
      t0=$(date +%s%N)
      if head -c $bytes /dev/zero | ip netns exec $netns timeout 120 nc -N $ip 5001 2>> "$out/netbench.log"; then
        t1=$(date +%s%N); echo "$side tx-by-host $r $(( bytes * 1000000000 / (t1 - t0) ))" >> "$out/netbench.log"
      else echo "$side tx-by-host $r 0" >> "$out/netbench.log"; fi
      if [ -n "$cap" ]; then
        sleep 1; kill $ssp $cap 2>/dev/null; wait $cap 2>/dev/null || true
        tcpdump -tt -n -r "$out/netbench-$side.pcap" 2>/dev/null | python3 "$(dirname "${BASH_SOURCE[0]}")/pcap_summary.py" "pcap $side" \
          >> "$out/netbench-pcap.txt" 2>&1 || true
      fi
    done
  done
  if [ -s "$out/netbench-pcap.txt" ]; then say "what paces each transfer (round 1, from tcpdump on the TAPs):"; cat "$out/netbench-pcap.txt" >&2; fi
  awk '
    { v[$1" "$2] = v[$1" "$2] " " $4 }
    function median(s,   a, n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
                                        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0 }
    END {
      print "| TCP, 8 MiB per transfer (median of " '"$rounds"' ") | Photon (virtio-net driver + stack) | Linux virtio_net | Photon / Linux |"
      print "|---|---|---|---|"
      split("tx-by-host rx-by-host", d, " ")
      name["rx-by-host"] = "guest -> host (curl GET /bulk)"; name["tx-by-host"] = "host -> guest (nc to a sink)"
      for (i = 1; i <= 2; i++) { p = median(v["photon " d[i]]); l = median(v["linux " d[i]])
        printf "| %s | %.1f MB/s | %.1f MB/s | %.2fx |\n", name[d[i]], p / 1e6, l / 1e6, (l > 0 ? p / l : 0) }
    }' "$out/netbench.log" > "$out/netbench-table.md"
  say "network benchmark ($out/netbench-table.md):"; cat "$out/netbench-table.md" >&2
}
