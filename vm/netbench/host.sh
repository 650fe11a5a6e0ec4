# Sourced by vm/run.sh --netbench: netbench_run, called by the host side once the guest said NET-READY (and before it
# fetches /done). In netns $netns it times, in interleaved rounds, the same transfers against Photon (10.77.0.2: its
# stack on its virtio-net driver) and Linux (10.78.0.2: virtio_net): guest->host = curl of a 8 MiB /bulk
# (speed_download), host->guest = 8 MiB of zeros through `nc -N` to port 5001 until the guest closes. It writes the
# medians and Photon/Linux ratios to $out/netbench-table.md and each sample to $out/netbench.log.
netbench_run() {
  local rounds=${NETBENCH_ROUNDS:-3} bytes=$((8 << 20)) r side ip t0 t1
  : > "$out/netbench.log"
  for r in $(seq "$rounds"); do
    for side in photon linux; do
      [ $side = photon ] && ip=10.77.0.2 || ip=10.78.0.2
      bps=$(ip netns exec $netns curl -sS -o /dev/null --max-time 120 -w '%{speed_download}' "http://$ip/bulk" 2>> "$out/netbench.log" || echo 0)
      echo "$side rx-by-host $r $bps" >> "$out/netbench.log"
      t0=$(date +%s%N)
      if head -c $bytes /dev/zero | ip netns exec $netns timeout 120 nc -N $ip 5001 2>> "$out/netbench.log"; then
        t1=$(date +%s%N); echo "$side tx-by-host $r $(( bytes * 1000000000 / (t1 - t0) ))" >> "$out/netbench.log"
      else echo "$side tx-by-host $r 0" >> "$out/netbench.log"; fi
    done
  done
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
