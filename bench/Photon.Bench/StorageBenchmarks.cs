using System.Diagnostics;
using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;

namespace Photon.Bench;

/// <summary>
/// Block driver vs plain RandomAccess on the same host file (sequential and random 4 KiB, queue depth 32), and file
/// copies through Photon's ext4 and FAT vs Linux `cp` of the same bytes — all measured in the same run.
/// </summary>
public static class StorageBenchmarks
{
    private const int Block = 4096;
    private const long FileBytes = 128L * 1024 * 1024;
    private const int Ops = 16_384;
    private const int QueueDepth = 32;

    public static IEnumerable<BenchResult> Run()
    {
        var dir = Directory.CreateTempSubdirectory("photon-bench-").FullName;
        try
        {
            var path = Path.Combine(dir, "disk.img");
            using (var f = File.Create(path)) f.SetLength(FileBytes);
            var data = new byte[Block];
            new Random(1).NextBytes(data);
            // PHOTON_BENCH_COPY_ONLY=1 runs only the file copies (the VFS rows), PHOTON_BENCH_BLOCK_ONLY=1 only the block
            // rows. Each block row runs on the io_uring backend and on the thread-pool fallback, both against the same
            // baseline measured in between; each also reports process CPU time per MiB moved (load-insensitive-ish:
            // what the machine's other work does not add to it).
            var blockRows = Environment.GetEnvironmentVariable("PHOTON_BENCH_BLOCK_ONLY"); // "read" or "write": those rows alone
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_COPY_ONLY") is null)
            {
                // One unmeasured pass of each path first, reads and writes, so the first row does not carry the JIT's CPU
                // time and neither side's writes are measured cold (first writes allocate the sparse image's blocks).
                foreach (bool write in new[] { false, true })
                {
                    foreach (var side in new[] { PhotonSide(path, Offsets(true), write, data, HostStorageBackend.IoUring), BaselineSide(path, Offsets(true), write, data) })
                    {
                        side.Run(timed: false);
                        side.Finish(Ops);
                    }
                }
            }
            if (Environment.GetEnvironmentVariable("PHOTON_BENCH_COPY_ONLY") is null)
            foreach (bool write in blockRows switch { "read" => new[] { false }, "write" => new[] { true }, _ => new[] { false, true } })
            foreach (bool random in new[] { false, true })
            {
                var offsets = Offsets(random);
                // PHOTON_BENCH_BLOCK_PATH=photon (io_uring driver) or randomaccess: that path's rows alone, for perf record
                // and strace -c (no baseline in the process to tell apart); the figure printed is the last round's.
                if (Environment.GetEnvironmentVariable("PHOTON_BENCH_BLOCK_PATH") is { } only)
                {
                    // PHOTON_PROFILE_ROUNDS: repeat it, so a profile is the steady state rather than the JIT.
                    int rounds = int.TryParse(Environment.GetEnvironmentVariable("PHOTON_PROFILE_ROUNDS"), out var n) ? Math.Max(1, n) : 1;
                    Figure alone = default;
                    for (int round = 0; round < rounds; round++)
                        alone = Alone(only == "randomaccess" ? BaselineSide(path, offsets, write, data)
                            : PhotonSide(path, offsets, write, data, HostStorageBackend.IoUring), offsets.Length);
                    yield return new BenchResult($"{(random ? "random" : "sequential")} 4 KiB {(write ? "write" : "read")} (QD{QueueDepth}), {only} alone, CPU",
                        alone.CpuMsPerMiB, "-", double.NaN, "CPU ms/MiB", LowerIsBetter: true);
                    continue;
                }
                // The three sides run interleaved, round by round (block rows before rw20 ran each side's passes back to
                // back: a burst of load, or the thread pool's state after the previous side, landed on one side only).
                var (uring, baseline, threadPool) = Interleaved(path, offsets, write, data);
                var name = $"{(random ? "random" : "sequential")} 4 KiB {(write ? "write" : "read")} (QD{QueueDepth})";
                yield return new BenchResult(name, uring.MBps, "RandomAccess on the same file", baseline.MBps, "MB/s", LowerIsBetter: false);
                yield return new BenchResult(name + ", thread-pool fallback", threadPool.MBps, "RandomAccess on the same file", baseline.MBps, "MB/s",
                    LowerIsBetter: false);
                yield return new BenchResult(name + ", CPU", uring.CpuMsPerMiB, "RandomAccess on the same file", baseline.CpuMsPerMiB,
                    "CPU ms/MiB", LowerIsBetter: true);
            }
            if (blockRows is not null) yield break;
            yield return FileCopy(dir, "ext4");
            yield return FileCopy(dir, "vfat");
        }
        finally { Directory.Delete(dir, true); }
    }

    private static long[] Offsets(bool random)
    {
        var rng = new Random(7);
        return Enumerable.Range(0, Ops).Select(i => random ? rng.NextInt64(0, FileBytes / Block) * Block : (long)i * Block).ToArray();
    }

    /// <summary>Throughput (median of the measured passes) and process CPU time per MiB (over the warm-up and the passes).</summary>
    private readonly record struct Figure(double MBps, double CpuMsPerMiB);

    /// <summary>Measured passes per side (PHOTON_BENCH_ROUNDS overrides): each pass is 64 MiB, tens of milliseconds, so
    /// one preempted pass moves a median of three; seven interleaved rounds hold it.</summary>
    private static int Rounds => int.TryParse(Environment.GetEnvironmentVariable("PHOTON_BENCH_ROUNDS"), out var n) && n > 0 ? n : 7;

    /// <summary>Unmeasured rounds first: tiered JIT promotes the hot paths to optimized code only after ~100 ms without new
    /// tier-0 code, so one warm-up pass left the first measured passes of a row 1.5–2x slower than its last (whichever
    /// side ran first paid most).</summary>
    private const int WarmUpRounds = 3;

    /// <summary>One side of a block row: a pass over the offsets, and what it measured.</summary>
    private sealed class Side(string label, Func<Task> pass, Action close)
    {
        public readonly string Label = label;
        public readonly List<TimeSpan> Times = new();
        public TimeSpan Cpu;
        public long Heap;
        public int Passes;
        public int FewestThreads = int.MaxValue, MostThreads;

        /// <summary>One pass (timed unless it is the warm-up), its process CPU time and heap bytes added to the side's.</summary>
        public void Run(bool timed)
        {
            GC.Collect();
            // The pool's size when a pass starts: every side's lanes run on it, and RandomAccess's blocking writes grow it.
            FewestThreads = Math.Min(FewestThreads, ThreadPool.ThreadCount);
            MostThreads = Math.Max(MostThreads, ThreadPool.ThreadCount);
            var cpu = Environment.CpuUsage.TotalTime;
            long heap = GC.GetTotalAllocatedBytes(precise: true);
            var sw = Stopwatch.StartNew();
            pass().GetAwaiter().GetResult();
            var elapsed = sw.Elapsed;
            Heap += GC.GetTotalAllocatedBytes(precise: true) - heap;
            Cpu += Environment.CpuUsage.TotalTime - cpu;
            Passes++;
            if (timed) Times.Add(elapsed);
        }

        public Figure Finish(int ops)
        {
            close();
            // Every pass's rate, in the order run: how far one side swings within a row (against the other sides' passes
            // interleaved with it) is the noise to read the median against.
            Console.Error.WriteLine($"storage: {Label}: {Heap / ((double)Passes * ops):F0} heap bytes per I/O" + (Times.Count == 0 ? "" :
                $"; passes {string.Join(", ", Times.Select(t => (ops * (double)Block / t.TotalSeconds / 1e6).ToString("F0")))} MB/s; " +
                $"{FewestThreads}–{MostThreads} pool threads"));
            Times.Sort();
            double mib = ops * (double)Block / (1 << 20);
            double mbps = Times.Count == 0 ? double.NaN : ops * (double)Block / Times[Times.Count / 2].TotalSeconds / 1e6;
            return new Figure(mbps, Cpu.TotalMilliseconds / (mib * Passes));
        }
    }

    /// <summary>
    /// The driver on io_uring, RandomAccess and the driver on the thread pool, on the same file and offsets: one warm-up
    /// pass each, then <see cref="Rounds"/> rounds of one pass each, the order rotated every round, so every side meets
    /// the same file state (the same pages dirty in the page cache), the same thread pool and the same load on average.
    /// </summary>
    private static (Figure Uring, Figure Baseline, Figure ThreadPool) Interleaved(string path, long[] offsets, bool write, byte[] data)
    {
        var sides = new[]
        {
            PhotonSide(path, offsets, write, data, HostStorageBackend.IoUring),
            BaselineSide(path, offsets, write, data),
            PhotonSide(path, offsets, write, data, HostStorageBackend.ThreadPool),
        };
        for (int round = 0; round < WarmUpRounds; round++)
            foreach (var side in sides) side.Run(timed: false);
        for (int round = 0; round < Rounds; round++)
            for (int i = 0; i < sides.Length; i++) sides[(round + i) % sides.Length].Run(timed: true);
        return (sides[0].Finish(offsets.Length), sides[1].Finish(offsets.Length), sides[2].Finish(offsets.Length));
    }

    /// <summary>One side alone (PHOTON_BENCH_BLOCK_PATH: for perf record and strace), a warm-up and the rounds.</summary>
    private static Figure Alone(Side side, int ops)
    {
        for (int round = 0; round < WarmUpRounds; round++) side.Run(timed: false);
        for (int round = 0; round < Rounds; round++) side.Run(timed: true);
        return side.Finish(ops);
    }

    private static Side PhotonSide(string path, long[] offsets, bool write, byte[] data, HostStorageBackend backend)
    {
        var storage = HostImageStorage.Open(path, backend: backend).Value;
        var caps = new CapabilityManager();
        var (dev, cap) = NvmeBlockDevice.Start(storage, caps, new NvmeOptions(QueuePairs: 2, QueueDepth: 64)).Value;
        return new Side($"{(write ? "write" : "read")} on {backend}", () => ParallelLanes(offsets, async (off, buf) =>
        {
            var r = write ? await dev.WriteAsync(cap, off / 512, data) : await dev.ReadAsync(cap, off / 512, buf);
            r.Unwrap();
        }), () =>
        {
            dev.DisposeAsync().AsTask().GetAwaiter().GetResult();
            var (inline, deferred, enters) = storage.RingCounters;
            if (enters > 0 || storage.InlineWrites > 0 || storage.CachedReads > 0 || storage.FarWrites > 0)
                Console.Error.WriteLine($"storage: {(write ? "write" : "read")} on {backend} ({storage.RingCount} rings): {storage.CachedReads} read from " +
                    $"the page cache by the submitter, {inline} completed inline, {deferred} deferred, " +
                    $"{(inline + deferred) / (double)Math.Max(1, enters):F1} per submitting enter, {storage.InlineWrites} written inline " +
                    $"({storage.QueuedWrites} queued behind another writer; {storage.VectoredWrites.Writes} of them in " +
                    $"{storage.VectoredWrites.Calls} pwritev calls of 2 or more), {storage.FarWrites} by the far writer, " +
                    $"ring writes: {storage.RingWriteAttempts.Refused} refused to the caller, {storage.RingWriteAttempts.StraightToRing} " +
                    $"straight to the ring thread");
            storage.DisposeAsync().AsTask().GetAwaiter().GetResult();
        });
    }

    private static Side BaselineSide(string path, long[] offsets, bool write, byte[] data)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.Asynchronous);
        return new Side($"{(write ? "write" : "read")} on RandomAccess", () => ParallelLanes(offsets, async (off, buf) =>
        {
            if (write) await RandomAccess.WriteAsync(handle, data, off);
            else await RandomAccess.ReadAsync(handle, buf, off);
        }), handle.Dispose);
    }

    /// <summary>QueueDepth concurrent lanes, each walking its share of the offsets. Each lane starts on the thread pool,
    /// as concurrent callers on several cores would: a request the driver completes inside its submission (a page-cache
    /// read on io_uring) never yields, so lanes started on the bench's own thread all ran one after another on it.
    /// PHOTON_BENCH_LANES=caller starts them on the bench's thread instead (the model before block12).</summary>
    private static Task ParallelLanes(long[] offsets, Func<long, byte[], Task> op)
    {
        bool onCaller = Environment.GetEnvironmentVariable("PHOTON_BENCH_LANES") == "caller";
        return Task.WhenAll(Enumerable.Range(0, QueueDepth).Select(lane => onCaller ? Lane(lane) : Task.Run(() => Lane(lane))));

        async Task Lane(int lane)
        {
            var buf = new byte[Block];
            for (int i = lane; i < offsets.Length; i += QueueDepth) await op(offsets[i], buf);
        }
    }

    private const int CopyMiB = 256;

    /// <summary>
    /// Copy a 256 MiB file inside an ext4 or FAT32 (4 KiB clusters) image through open-file nodes, 1 MiB per call, incl.
    /// flush, over the NVMe-style driver — vs `cp` + `sync` of the same bytes on the host filesystem.
    /// </summary>
    private static BenchResult FileCopy(string dir, string type)
    {
        var img = Path.Combine(dir, $"{type}.img");
        var payload = new byte[CopyMiB * 1024 * 1024];
        new Random(3).NextBytes(payload);
        var src = Path.Combine(dir, "src.bin");
        File.WriteAllBytes(src, payload);
        Run("truncate", $"-s 1G {img}");
        if (type == "ext4")
        {
            Run("mkfs.ext4", $"-q -F {img}");
            Run("debugfs", $"-w -R \"write {src} src.bin\" {img}");
        }
        else
        {
            Run("mkfs.vfat", $"-F 32 -s 8 {img}");
            Run("mcopy", $"-i {img} {src} ::src.bin");
        }
        IFileSystemDriver driver = type == "ext4" ? new Ext4FileSystemDriver() : new FatFileSystemDriver();
        int run = 0;
        var cpu = Environment.CpuUsage.TotalTime;
        var photon = Measure.Median(async () =>
        {
            var storage = HostImageStorage.Open(img).Value;
            var caps = new CapabilityManager();
            var (dev, cap) = NvmeBlockDevice.Start(storage, caps).Value;
            var fs = (await driver.MountAsync(dev.Open(cap), new MountOptions())).Value;
            var dst = $"/copy{run}.bin";
            (await fs.CreateFileAsync(dst)).Unwrap();
            var from = (await fs.OpenAsync("/src.bin")).Value;
            var to = (await fs.OpenAsync(dst)).Value;
            var buf = new byte[1024 * 1024];
            for (long off = 0; ; off += buf.Length)
            {
                int n = (await from.ReadAsync(off, buf)).Value;
                if (n == 0) break;
                (await to.WriteAsync(off, buf.AsMemory(0, n))).Unwrap();
            }
            from.Release();
            to.Release();
            (await fs.FlushAsync()).Unwrap();
            (await fs.DeleteAsync(dst)).Unwrap();
            (await fs.FlushAsync()).Unwrap();
            await fs.DisposeAsync();
            await dev.DisposeAsync();
            await storage.DisposeAsync();
            run++;
        }, runs: 3);
        Console.Error.WriteLine($"storage: copy ({type}): Photon CPU {(Environment.CpuUsage.TotalTime - cpu).TotalMilliseconds / (4.0 * CopyMiB):F2} ms per MiB");
        var cp = Measure.Median(() => { Run("sh", $"-c \"cp {src} {dir}/cp.bin && sync {dir}/cp.bin\""); File.Delete($"{dir}/cp.bin"); }, runs: 3);
        // The image Photon wrote and freed into must still be a clean filesystem, or the figure means nothing.
        if (type == "ext4") Run("e2fsck", $"-fn {img}");
        else Run("fsck.vfat", $"-n {img}");
        File.Delete(img);
        File.Delete(src);
        return new BenchResult($"copy {CopyMiB} MiB file ({type}, incl. flush)", CopyMiB / photon.TotalSeconds, "Linux cp + sync on the host fs",
            CopyMiB / cp.TotalSeconds, "MiB/s", LowerIsBetter: false);
    }

    private static void Run(string tool, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {args} failed: {p.StandardError.ReadToEnd()}");
    }
}
