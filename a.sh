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
      print "| TCP, 8 MiB per transfer, " pairs " pairs | Photon (virtio-net driver + stack), median | Linux virtio_net, median | Photon / Linux per pair: median (IQR; range) | guest context switches per MiB, Photon / Linux (of them Photon's process) | guest interrupts per MiB, Photon / Linux |" > table
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
