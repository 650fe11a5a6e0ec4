using Photon.FileSystems.Ext4;
using Photon.FileSystems.Tests.Ext4;
using Photon.Kernel.FileSystems;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// Crash-point testing of ext4's journaled write path (the CrashMonkey/ALICE method): run a workload on a recording
/// device, rebuild the disk at every flush boundary and at reordered/dropped subsets of the writes in flight after
/// it, and require for each crash state that
/// (1) Photon mounts it read-only (replay in memory) and read-write (replay on disk) and both see the same tree;
/// (2) that tree is the model's state after some number of operations j, at least every operation completed before
///     the last completed flush (fsync'd and acknowledged work is never lost; metadata is never half-applied);
/// (3) after Photon's replay, <c>e2fsck -fn</c> is clean;
/// (4) Linux's own replay (<c>e2fsck -E journal_only</c>) of the same crash image is also <c>e2fsck -fn</c> clean.
/// CI runs a bounded number of states; <c>PHOTON_CRASH_STATES=N</c> raises it (see README: "Crash-point testing").
/// </summary>
public sealed class Ext4CrashTests(ITestOutputHelper output)
{
    private static int Budget(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("PHOTON_CRASH_STATES"), out int n) && n > 0 ? n : ci;

    [Theory]
    [InlineData("8M", 1024, 800)]
    [InlineData("16M", 4096, 600)]
    public async Task Ext4_EveryCrashState_IsConsistent_AndKeepsEverythingAcknowledged(string size, int blockSize, int ciStates)
    {
        using var s = new Ext4Scratch();
        string mkfsImg = s.MakeImage("base.img", size, null, "-b", blockSize.ToString());
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(mkfsImg));

        // Record the workload and the model state after every operation.
        var ops = CrashWorkloads.Mixed(blockSize);
        var mounted = await new Ext4FileSystemDriver().MountAsync(recorder, new MountOptions());
        Assert.True(mounted.IsOk, mounted.ToString());
        var fs = mounted.Value;
        var model = new List<TreeSnapshot> { await TreeSnapshot.TakeAsync(fs) };
        var lastFlush = new List<int>();
        foreach (var op in ops)
        {
            var r = await op.RunAsync(fs);
            Assert.True(r.IsOk, $"{op}: {r}");
            lastFlush.Add(LastFlushIndex(recorder.Log));
            model.Add(await TreeSnapshot.TakeAsync(fs));
        }
        await fs.DisposeAsync();
        var journal = ((Ext4FileSystem)fs).Volume.Journal;
        Assert.NotNull(journal);
        Assert.Equal(ops.Count(o => o.Kind != "fsync"), journal.Transactions);
        Assert.Equal(0, journal.Unjournaled);

        bool longRun = Budget(ciStates) > ciStates;
        var states = CrashStates.Generate(recorder.Log, Budget(ciStates), randomPerEpoch: longRun ? 40 : 12, seed: blockSize);
        var groups = CrashImageGroups.ByImage(recorder.Base, recorder.Log, states);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        int replayedImages = 0, replayedStates = 0;
        var checker = new ImageChecker(s, recorder, ops, model);
        // Distinct images are independent (own buffers, own scratch files), so both cores check them.
        await Parallel.ForEachAsync(Enumerable.Range(0, groups.Count), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            async (g, _) =>
            {
                if (failures.Count >= 5) return;
                var group = groups[g];
                var verdict = await checker.CheckAsync($"g{g}", group[0]);
                if (verdict.Failure is not null) { failures.Enqueue($"{group[0]} (+{group.Count - 1} identical): {verdict.Failure}"); return; }
                if (verdict.Replayed) { Interlocked.Increment(ref replayedImages); Interlocked.Add(ref replayedStates, group.Count); }
                // What must have survived depends on the state's cut, not only on its image.
                foreach (var state in group)
                {
                    int durable = lastFlush.Count(f => f < state.Cut);
                    if (verdict.LatestMatch < durable)
                        failures.Enqueue($"{state}: matches no state after >= {durable} operations (latest {verdict.LatestMatch}): {verdict.Tree}");
                }
            });
        output.WriteLine($"ext4 {blockSize}-byte blocks: {ops.Count} operations, {recorder.Log.Count} log entries " +
                         $"({recorder.Log.Count(e => e.IsFlush)} flushes), {states.Count} crash states generated, {groups.Count} distinct images checked, " +
                         $"{replayedImages} images ({replayedStates} states) replayed committed transactions; " +
                         $"e2fsck -fn ran {checker.FsckRuns} times for {checker.FsckAsked} post-replay images; time summed over both workers: {checker.Phases}");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(5)));
        Assert.True(replayedImages > 0, "no crash state had a committed transaction to replay");
    }

    private static int LastFlushIndex(IReadOnlyList<BlockLogEntry> log)
    {
        for (int i = log.Count - 1; i >= 0; i--) if (log[i].IsFlush) return i;
        return -1;
    }

    /// <summary>What one distinct crash image showed: why it failed (null if not), whether Photon replayed a committed
    /// transaction, and the latest model state its tree matches (-1: none).</summary>
    private sealed record ImageVerdict(string? Failure, bool Replayed = false, int LatestMatch = -1, TreeSnapshot? Tree = null);

    /// <summary>
    /// Checks distinct crash images. Replays of different crash images often converge on the same disk (nothing
    /// committed to replay, or the same transactions replayed), so <c>e2fsck -fn</c> runs once per distinct post-replay
    /// image. Time per phase is summed so the figures say where a state's cost goes.
    /// </summary>
    private sealed class ImageChecker(Ext4Scratch s, RecordingBlockDevice recorder, List<CrashOp> ops, List<TreeSnapshot> model)
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<(int Code, string Output)>> _fsck = new();
        private long _materialise, _photon, _e2fsck, _linuxReplay;
        private int _fsckRuns, _fsckAsked;

        public int FsckRuns => _fsckRuns;
        public int FsckAsked => _fsckAsked;
        public string Phases => $"materialise {Ms(_materialise)}, Photon mounts+replay+tree {Ms(_photon)}, " +
                                $"e2fsck -E journal_only {Ms(_linuxReplay)}, e2fsck -fn {Ms(_e2fsck)}";

        private static string Ms(long ticks) => $"{ticks * 1000 / System.Diagnostics.Stopwatch.Frequency} ms";

        private (int Code, string Output) Fsck(string path, byte[] image)
        {
            Interlocked.Increment(ref _fsckAsked);
            long t = System.Diagnostics.Stopwatch.GetTimestamp();
            string key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(image));
            var result = _fsck.GetOrAdd(key, _ => new Lazy<(int, string)>(() =>
            {
                Interlocked.Increment(ref _fsckRuns);
                File.WriteAllBytes(path, image);
                try { return Ext4Scratch.Fsck(path); }
                finally { File.Delete(path); }
            })).Value;
            Interlocked.Add(ref _e2fsck, System.Diagnostics.Stopwatch.GetTimestamp() - t);
            return result;
        }

        public async Task<ImageVerdict> CheckAsync(string name, CrashState state)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            var image = state.Build(recorder.Base, recorder.Log);
            long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
            Interlocked.Add(ref _materialise, t1 - t0);

            // Read-only: replay in memory, nothing written.
            var roDevice = new MemoryBlockDevice((byte[])image.Clone());
            var ro = await new Ext4FileSystemDriver().MountAsync(roDevice, new MountOptions(ReadOnly: true));
            if (!ro.IsOk) return new("read-only mount failed: " + ro.Error);
            TreeSnapshot roTree;
            try { roTree = await TreeSnapshot.TakeAsync(ro.Value); }
            catch (InvalidOperationException e) { return new("read-only mount: " + e.Message); }
            finally { await ro.Value.DisposeAsync(); }
            if (roDevice.Writes != 0) return new($"the read-only mount wrote {roDevice.Writes} times");

            var rwDevice = new MemoryBlockDevice((byte[])image.Clone());
            var rw = await new Ext4FileSystemDriver().MountAsync(rwDevice, new MountOptions());
            if (!rw.IsOk) return new("read-write mount failed: " + rw.Error);
            bool hadReplay = ((Ext4FileSystem)rw.Value).Volume.Journal is { Recovered: > 0 };
            TreeSnapshot tree;
            try { tree = await TreeSnapshot.TakeAsync(rw.Value); }
            catch (InvalidOperationException e) { return new("read-write mount: " + e.Message); }
            finally { await rw.Value.DisposeAsync(); }
            if (!roTree.Matches(tree, new HashSet<string>())) return new($"read-only and read-write replays differ:\n  ro {roTree}\n  rw {tree}");

            int match = -1;
            for (int j = model.Count - 1; j >= 0 && match < 0; j--)
            {
                var loose = j + 1 < model.Count && ops[j].WritesDataInPlace ? new HashSet<string> { ops[j].Path } : new HashSet<string>();
                if (tree.Matches(model[j], loose)) match = j;
            }
            if (match < 0) return new($"matches no model state: {tree}");

            Interlocked.Add(ref _photon, System.Diagnostics.Stopwatch.GetTimestamp() - t1);

            var (code, fsck) = Fsck(s.PathOf(name + "-photon.img"), rwDevice.Data);
            if (code != 0) return new($"e2fsck -fn after Photon's replay exited {code}: {fsck}");

            string linuxImg = s.PathOf(name + "-linux.img");
            long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
            await File.WriteAllBytesAsync(linuxImg, image);
            var (jcode, jout) = Ext4Scratch.Run("e2fsck", "-E", "journal_only", "-y", linuxImg);
            var linuxReplayed = await File.ReadAllBytesAsync(linuxImg);
            File.Delete(linuxImg);
            Interlocked.Add(ref _linuxReplay, System.Diagnostics.Stopwatch.GetTimestamp() - t2);
            if (jcode > 1) return new($"e2fsck -E journal_only exited {jcode}: {jout}");
            (code, fsck) = Fsck(linuxImg, linuxReplayed);
            if (code != 0) return new($"e2fsck -fn after Linux's replay exited {code}: {fsck}");
            return new(null, hadReplay, match, tree);
        }
    }
}
