using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Photon.Cli.Vm;
using Photon.Kernel;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.Vfio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Cli.Commands;

/// <summary>
/// <c>photon vm guest --bench</c> (what <c>vm/bench.sh</c> boots): two identical QEMU NVMe controllers, the first for
/// Photon's driver through VFIO, the second left to Linux's <c>nvme</c> driver. 4 KiB random reads at QD1 and QD32 on
/// both — Linux's through <c>/bin/randread</c> (O_DIRECT preads, one thread per queue slot), Photon's five ways: the
/// async <see cref="NvmeController.ReadAsync"/> with MSI-X interrupts only, with MSI-X plus the hybrid poll, with MSI-X
/// plus the interrupt-free poll queue for depth-1 commands (the driver's default), with polled completions and the submitter polling inline, and <see cref="NvmeController.ReadPolled"/> (SPDK's
/// one-thread loop, one doorbell per batch) — in rounds, each with Linux's runs before and after Photon's, and the
/// ratios taken per round (against the mean of those two Linux runs), so drift in the shared host's load hits all alike.
/// Each Photon run also prints the driver's per-I/O counters (doorbells, polls, who reaped, thread hops, reaper wakes,
/// time in submit/device/wake, bytes allocated). Under TCG every figure is emulation-bound: the table gives ratios to
/// Linux measured in the same run, between <c>BENCH-TABLE-BEGIN</c>/<c>END</c> lines the host script extracts.
/// </summary>
public static partial class VmBenchCommand
{
    private const int IoBytes = 4096;

    private sealed record Sample(double Iops, double MeanMicroseconds);

    /// <summary>One way of driving Photon's controller: its name in the table, the driver options, and whether the
    /// reads go through the one-thread polled loop instead of async workers.</summary>
    private sealed record PhotonPath(string Key, string Title, bool Polling, bool PollInline, bool Loop, TimeSpan? HybridPoll = null,
        bool PollQueue = false, int DeliveryDoorbellEvery = 4, bool DepthPoll = false);

    private static readonly PhotonPath[] Paths =
    [
        new("msix", "Photon MSI-X, interrupts only (async)", Polling: false, PollInline: false, Loop: false, HybridPoll: TimeSpan.Zero),
        new("hybrid", "Photon MSI-X + hybrid poll at depth 1 (async)", Polling: false, PollInline: false, Loop: false),
        new("pollq", "Photon MSI-X + poll queue at depth 1 (async, the default)", Polling: false, PollInline: false, Loop: false, PollQueue: true),
        new("inline", "Photon polled inline (async)", Polling: true, PollInline: true, Loop: false),
        new("loop", "Photon polled loop (one thread, batched doorbells)", Polling: true, PollInline: true, Loop: true),
    ];

    // Variants measured only when --pair-targets names them (A/B runs of a driver option against Linux in one boot).
    private static readonly PhotonPath[] ExtraPaths =
    [
        new("pollq-r0", "default, but one doorbell at a delivery's end", Polling: false, PollInline: false, Loop: false, PollQueue: true, DeliveryDoorbellEvery: 0),
        new("pollq-r1", "default, doorbell per resubmission in a delivery", Polling: false, PollInline: false, Loop: false, PollQueue: true, DeliveryDoorbellEvery: 1),
        new("pollq-r2", "default, doorbell every 2 resubmissions in a delivery", Polling: false, PollInline: false, Loop: false, PollQueue: true, DeliveryDoorbellEvery: 2),
        new("pollq-r8", "default, doorbell every 8 resubmissions in a delivery", Polling: false, PollInline: false, Loop: false, PollQueue: true, DeliveryDoorbellEvery: 8),
        new("pollq-dp", "default + busy poll at depth (one line polls all queues)", Polling: false, PollInline: false, Loop: false, PollQueue: true, DepthPoll: true),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        void Say(string line) => Console.WriteLine("bench: " + line);
        double seconds = Option(args, "--seconds", 4);
        int rounds = Array.LastIndexOf(args, "--rounds") is int ri && ri >= 0 && ri + 1 < args.Length && args[ri + 1] == "0" ? 0 : (int)Option(args, "--rounds", 2);
        // --pairs N: after the rounds, N pairs of --pair-seconds slices (Linux, Photon; then Photon, Linux; …) per target.
        int pairs = (int)Option(args, "--pairs", 0);
        double pairSeconds = Option(args, "--pair-seconds", 0.5);
        // The driver's watchdog also reaps every queue each tick (default 250 ms): a shorter tick shows whether
        // completions arrive through the interrupt or polling path or only through that tick.
        var timeout = TimeSpan.FromMilliseconds(Option(args, "--command-timeout-ms", 30_000));
        TimeSpan? tick = Array.IndexOf(args, "--watchdog-tick-ms") >= 0 ? TimeSpan.FromMilliseconds(Option(args, "--watchdog-tick-ms", 250)) : null;
        var bus = new VfioPciBus();
        var nvme = bus.Enumerate().Where(f => f.ClassCode == 0x010802).OrderBy(f => f.Address.ToString(), StringComparer.Ordinal).ToList();
        if (nvme.Count < 2) { Say($"need two NVMe controllers, found {nvme.Count}"); Console.WriteLine("PHOTON-BENCH: FAIL"); return 1; }
        var photonAt = nvme[0].Address;
        var linuxDevice = LinuxBlockDevice(nvme[1].Address);
        if (linuxDevice is null) { Say($"{nvme[1].Address}: Linux's nvme driver did not make a block device"); Console.WriteLine("PHOTON-BENCH: FAIL"); return 1; }
        Say($"Photon's driver: {photonAt} (vfio-pci); Linux's driver: {nvme[1].Address} = {linuxDevice}; {seconds} s per run, {rounds} rounds, command timeout {timeout.TotalMilliseconds} ms, watchdog tick {(tick ?? new NvmeDriverOptions(CommandTimeout: timeout).Tick).TotalMilliseconds} ms");

        var results = new Dictionary<string, List<Sample>>();
        void Add(string key, Sample s) { (results.TryGetValue(key, out var l) ? l : results[key] = []).Add(s); Say($"{key}: {s.Iops:F0} IOPS, mean {s.MeanMicroseconds:F0} us"); }
        // Per round, Photon against the mean of Linux's runs just before and just after it (the host's load drifts
        // over a round); the table gives the median of those per-round ratios and their range.
        var ratios = new Dictionary<string, List<(double Iops, double Latency)>>();
        var failures = new List<string>();
        async Task<Dictionary<int, Sample>> LinuxRuns(string when)
        {
            var runs = new Dictionary<int, Sample>();
            foreach (int qd in new[] { 1, 32 })
            {
                var linux = await LinuxRandomReadAsync(linuxDevice, qd, seconds);
                if (linux is null) failures.Add($"linux qd{qd} ({when})");
                else { Add($"linux qd{qd}", linux); runs[qd] = linux; }
            }
            return runs;
        }
        for (int round = 1; round <= rounds; round++)
        {
            var linuxBefore = await LinuxRuns("before");
            var photonRuns = new Dictionary<string, Sample>();
            foreach (var path in Paths)
            {
                var opened = bus.Open(photonAt);
                if (!opened.IsOk) { failures.Add($"open {photonAt}: {opened.Error}"); continue; }
                // 64 entries: the polled loop keeps all 32 reads of QD32 on one queue (a ring of N holds N-1).
                var options = new NvmeDriverOptions(IoQueues: 2, QueueEntries: 64, Polling: path.Polling, CommandTimeout: timeout, WatchdogTick: tick,
                    PollInline: path.PollInline, HybridPoll: path.HybridPoll, PollQueue: path.PollQueue,
                DeliveryDoorbellEvery: path.DeliveryDoorbellEvery, DepthPoll: path.DepthPoll);
                var started = await NvmeController.StartAsync(opened.Value, new HostTimers(new HostClock()), options);
                if (!started.IsOk) { failures.Add($"start ({path.Key}): {started.Error}"); continue; } // the controller disposed (or kept) the function
                await using var controller = started.Value;
                if (!path.Polling && !controller.Identity.Interrupts) Say("MSI-X unavailable: the interrupt run is polled");
                foreach (int qd in new[] { 1, 32 })
                {
                    var before = controller.Counters;
                    long allocated = GC.GetTotalAllocatedBytes(precise: false);
                    // run.sh --perf: a guest profile of the default path's QD1 and QD32 runs in the last round, after the
                    // tier-up JIT of the first rounds (printed after the table).
                    if (round == rounds && path.Key == "pollq") GuestProfile.Record($"nvme-pollq-qd{qd}", seconds);
                    var photon = path.Loop ? await Task.Run(() => PhotonPolledLoop(controller, qd, seconds)) : await PhotonRandomReadAsync(controller, qd, seconds);
                    allocated = GC.GetTotalAllocatedBytes(precise: false) - allocated;
                    var counters = controller.Counters - before;
                    if (!photon.IsOk) { failures.Add($"photon {path.Key} qd{qd}: {photon.Error}"); continue; }
                    Add($"photon-{path.Key} qd{qd}", photon.Value);
                    photonRuns[$"{path.Key} qd{qd}"] = photon.Value;
                    Say($"photon-{path.Key} qd{qd} counters: {counters.PerIo()}; {allocated / (double)Math.Max(1, counters.Commands):F0} B allocated per I/O (whole process)");
                }
            }
            var linuxAfter = await LinuxRuns("after");
            foreach (int qd in new[] { 1, 32 })
            {
                if (!linuxBefore.TryGetValue(qd, out var b) || !linuxAfter.TryGetValue(qd, out var a)) continue;
                var linux = new Sample((b.Iops + a.Iops) / 2, (b.MeanMicroseconds + a.MeanMicroseconds) / 2);
                foreach (var path in Paths)
                {
                    if (!photonRuns.TryGetValue($"{path.Key} qd{qd}", out var p)) continue;
                    var r = (p.Iops / linux.Iops, linux.MeanMicroseconds / p.MeanMicroseconds);
                    (ratios.TryGetValue($"{path.Key} qd{qd}", out var l) ? l : ratios[$"{path.Key} qd{qd}"] = []).Add(r);
                    Say(FormattableString.Invariant($"round {round} {path.Key} qd{qd}: IOPS {r.Item1:F2}x Linux's, latency {r.Item2:F2}x better"));
                }
            }
        }

        Console.WriteLine("BENCH-TABLE-BEGIN");
        Console.WriteLine($"| 4 KiB random read | driver path | IOPS | mean latency | IOPS / Linux | Linux latency / Photon latency |");
        Console.WriteLine("|---|---|---|---|---|---|");
        string Ratio(List<double> r) => r.Count == 0 ? "—" : r.Count == 1 ? FormattableString.Invariant($"{r[0]:F2}x")
            : FormattableString.Invariant($"{MedianOf(r):F2}x ({r.Min():F2}–{r.Max():F2})");
        foreach (int qd in new[] { 1, 32 })
        {
            var linux = Median(results, $"linux qd{qd}");
            Console.WriteLine(linux is null ? $"| QD{qd} | Linux nvme (O_DIRECT pread) | — | — | — | — |"
                : FormattableString.Invariant($"| QD{qd} | Linux nvme (O_DIRECT pread) | {linux.Iops:F0} | {linux.MeanMicroseconds:F0} µs | 1x | 1x |"));
            foreach (var path in Paths)
            {
                var s = Median(results, $"photon-{path.Key} qd{qd}");
                var r = ratios.GetValueOrDefault($"{path.Key} qd{qd}") ?? [];
                Console.WriteLine(s is null ? $"| QD{qd} | {path.Title} | — | — | — | — |"
                    : FormattableString.Invariant($"| QD{qd} | {path.Title} | {s.Iops:F0} | {s.MeanMicroseconds:F0} µs | {Ratio([.. r.Select(x => x.Iops)])} | {Ratio([.. r.Select(x => x.Latency)])} |"));
            }
        }
        Console.WriteLine("BENCH-TABLE-END");
        // The paired comparison (vm13): short Photon and Linux slices back to back, many pairs, median of per-pair ratios.
        var summary = pairs > 0 ? await RunPairsAsync(bus, photonAt, linuxDevice, pairs, pairSeconds, timeout, tick, Say, failures, ChosenTargets(args)) : [];
        GuestProfile.ReportAll();
        foreach (var f in failures) Say("FAILED: " + f);
        foreach (var line in summary) Console.WriteLine("BENCH-SUMMARY: " + line);
        Console.WriteLine(failures.Count == 0 ? "PHOTON-BENCH: PASS" : "PHOTON-BENCH: FAIL");
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>One target of the paired comparison: the path, the depth, and whether the ratio is of latency (QD1) or
    /// of IOPS (QD32), with the issue's goal.</summary>
    private sealed record PairTarget(string PathKey, int Qd, bool Latency, double Goal, string Name);

    /// <summary>--pair-targets KEY:QD,… (e.g. pollq:32,pollq-r0:32): only those targets, each a path of
    /// <see cref="Paths"/> or <see cref="ExtraPaths"/> at depth 1 (latency) or more (IOPS); default the four below.</summary>
    private static IReadOnlyList<PairTarget> ChosenTargets(string[] args)
    {
        int i = Array.LastIndexOf(args, "--pair-targets");
        if (i < 0 || i + 1 >= args.Length) return PairTargets;
        var chosen = new List<PairTarget>();
        foreach (var item in args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = item.Split(':');
            if (parts.Length != 2 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out int qd) || qd < 1 || qd > 64
                || !Paths.Concat(ExtraPaths).Any(p => p.Key == parts[0])) continue;
            chosen.Add(new(parts[0], qd, Latency: qd == 1, Goal: qd == 1 ? 1.5 : 1.0, $"NVMe QD{qd} {(qd == 1 ? "latency" : "IOPS")}, {parts[0]}"));
        }
        return chosen.Count > 0 ? chosen : PairTargets;
    }

    private static readonly PairTarget[] PairTargets =
    [
        new("pollq", 1, Latency: true, Goal: 1.5, "NVMe QD1 latency, async default path (poll queue)"),
        new("pollq", 32, Latency: false, Goal: 1.0, "NVMe QD32 IOPS, async default path"),
        new("loop", 1, Latency: true, Goal: 1.5, "NVMe QD1 latency, polled loop"),
        new("loop", 32, Latency: false, Goal: 1.0, "NVMe QD32 IOPS, polled loop"),
    ];

    /// <summary>Per target, <paramref name="pairs"/> pairs of short slices — Linux then Photon, then Photon then Linux,
    /// alternating so a drift of the host's load favours neither — on one controller kept open for the path; the
    /// per-pair ratios' median and spread, and the driver's per-I/O counters over all of the path's slices. Returns the
    /// one-line summaries.</summary>
    private static async Task<List<string>> RunPairsAsync(VfioPciBus bus, PciAddress photonAt, string linuxDevice, int pairs, double seconds,
        TimeSpan timeout, TimeSpan? tick, Action<string> say, List<string> failures, IReadOnlyList<PairTarget> targets)
    {
        var summary = new List<string>();
        foreach (var group in targets.GroupBy(t => t.PathKey))
        {
            var path = Paths.Concat(ExtraPaths).Single(p => p.Key == group.Key);
            var opened = bus.Open(photonAt);
            if (!opened.IsOk) { failures.Add($"pairs: open {photonAt}: {opened.Error}"); continue; }
            var options = new NvmeDriverOptions(IoQueues: 2, QueueEntries: 64, Polling: path.Polling, CommandTimeout: timeout, WatchdogTick: tick,
                PollInline: path.PollInline, HybridPoll: path.HybridPoll, PollQueue: path.PollQueue,
                DeliveryDoorbellEvery: path.DeliveryDoorbellEvery, DepthPoll: path.DepthPoll);
            var started = await NvmeController.StartAsync(opened.Value, new HostTimers(new HostClock()), options);
            if (!started.IsOk) { failures.Add($"pairs: start ({path.Key}): {started.Error}"); continue; } // the controller disposed (or kept) the function
            await using var controller = started.Value;
            foreach (var target in group)
            {
                async Task<Sample?> Photon()
                {
                    var r = path.Loop ? await Task.Run(() => PhotonPolledLoop(controller, target.Qd, seconds)) : await PhotonRandomReadAsync(controller, target.Qd, seconds);
                    return r.IsOk ? r.Value : null;
                }
                _ = await Photon(); // warm-up slice, not counted
                var ratios = new PairedRatios();
                var before = controller.Counters;
                for (int i = 0; i < pairs; i++)
                {
                    Sample? l, p;
                    if (i % 2 == 0) { l = await LinuxRandomReadAsync(linuxDevice, target.Qd, seconds); p = await Photon(); }
                    else { p = await Photon(); l = await LinuxRandomReadAsync(linuxDevice, target.Qd, seconds); }
                    if (l is null || p is null) { failures.Add($"pairs: {path.Key} qd{target.Qd} pair {i + 1}: a side failed"); continue; }
                    if (target.Latency) ratios.Add(p.MeanMicroseconds, l.MeanMicroseconds, higherIsBetter: false);
                    else ratios.Add(p.Iops, l.Iops);
                    say(FormattableString.Invariant($"pair {i + 1} {path.Key} qd{target.Qd}: Photon {p.Iops:F0} IOPS {p.MeanMicroseconds:F0} us, Linux {l.Iops:F0} IOPS {l.MeanMicroseconds:F0} us: {ratios.Values[^1]:F2}x"));
                }
                var counters = controller.Counters - before;
                say($"pairs {path.Key} qd{target.Qd} counters: {counters.PerIo()}");
                summary.Add(FormattableString.Invariant($"{target.Name}: {ratios.Describe(target.Goal)} Linux's, {seconds} s slices; target ≥ {target.Goal:0.0#}x: {ratios.Verdict(target.Goal)}"));
            }
        }
        return summary;
    }

    /// <summary>The median run by IOPS, both figures averaged over the middle two of an even count (TCG on a shared
    /// host is noisy; the median drops one-off stalls).</summary>
    private static Sample? Median(Dictionary<string, List<Sample>> results, string key)
    {
        if (!results.TryGetValue(key, out var l) || l.Count == 0) return null;
        var sorted = l.OrderBy(s => s.Iops).ToList();
        if (sorted.Count % 2 == 1) return sorted[sorted.Count / 2];
        Sample lo = sorted[sorted.Count / 2 - 1], hi = sorted[sorted.Count / 2];
        return new Sample((lo.Iops + hi.Iops) / 2, (lo.MeanMicroseconds + hi.MeanMicroseconds) / 2);
    }

    private static double MedianOf(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Option(string[] args, string name, double fallback)
    {
        int i = Array.LastIndexOf(args, name); // the last: vm/bench.sh puts its defaults first
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : fallback;
    }

    /// <summary>/dev/nvmeXn1 of the controller Linux's nvme driver holds at <paramref name="address"/>.</summary>
    private static string? LinuxBlockDevice(PciAddress address)
    {
        var dir = $"/sys/bus/pci/devices/{address}/nvme";
        for (int attempt = 0; attempt < 50; attempt++)
        {
            if (Directory.Exists(dir))
                foreach (var ctrl in Directory.GetDirectories(dir))
                    foreach (var ns in Directory.GetDirectories(ctrl, Path.GetFileName(ctrl) + "n*"))
                        if (File.Exists("/dev/" + Path.GetFileName(ns))) return "/dev/" + Path.GetFileName(ns);
            Thread.Sleep(200);
        }
        return null;
    }

    private static async Task<Sample?> LinuxRandomReadAsync(string device, int qd, double seconds)
    {
        var start = new ProcessStartInfo("/bin/randread") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { device, qd.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        var m = RandreadLine().Match(output);
        if (p.ExitCode != 0 || !m.Success) { Console.WriteLine($"bench: randread exited {p.ExitCode}: {output.Trim()}"); return null; }
        return new Sample(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"iops=([0-9.]+) mean_us=([0-9.]+)")]
    private static partial Regex RandreadLine();

    /// <summary>The one-thread polled loop at depth <paramref name="qd"/>; each read's 4 KiB is copied out (as Linux's
    /// pread lands in the caller's buffer). Mean latency by Little's law (depth × time / reads).</summary>
    private static Result<Sample> PhotonPolledLoop(NvmeController controller, int qd, double seconds)
    {
        int perIo = IoBytes / controller.BlockSize;
        long slots = controller.BlockCount / perIo;
        var rng = new Random(qd);
        var buffer = new byte[IoBytes];
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var r = controller.ReadPolled(qd, IoBytes,
            (out long lba) => { lba = rng.NextInt64(slots) * perIo; return clock.Elapsed < deadline; },
            (data, _) => data.CopyTo(buffer));
        double elapsed = clock.Elapsed.TotalSeconds;
        if (!r.IsOk) return r.Error;
        if (r.Value == 0) return Errors.Of(ErrorCode.IoError, "no I/O completed");
        return new Sample(r.Value / elapsed, elapsed * qd / r.Value * 1e6);
    }

    /// <summary><paramref name="qd"/> workers, each with one 4 KiB read at a random 4 KiB-aligned offset in flight.</summary>
    private static async Task<Result<Sample>> PhotonRandomReadAsync(NvmeController controller, int qd, double seconds)
    {
        int perIo = IoBytes / controller.BlockSize;
        long slots = controller.BlockCount / perIo;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        long ios = 0, busyTicks = 0;
        KernelError? error = null;
        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            var buffer = new byte[IoBytes];
            while (error is null && clock.Elapsed < deadline)
            {
                long t0 = Stopwatch.GetTimestamp();
                var r = await controller.ReadAsync(rng.NextInt64(slots) * perIo, buffer, default).ConfigureAwait(false);
                if (!r.IsOk) { error = r.Error; return; }
                Interlocked.Add(ref busyTicks, Stopwatch.GetTimestamp() - t0);
                Interlocked.Increment(ref ios);
            }
        }
        await Task.WhenAll(Enumerable.Range(1, qd).Select(i => Task.Run(() => Worker(i))));
        var elapsed = clock.Elapsed.TotalSeconds;
        if (error is { } e) return e;
        if (ios == 0) return Errors.Of(ErrorCode.IoError, "no I/O completed");
        return new Sample(ios / elapsed, busyTicks * 1e6 / Stopwatch.Frequency / ios);
    }
}
