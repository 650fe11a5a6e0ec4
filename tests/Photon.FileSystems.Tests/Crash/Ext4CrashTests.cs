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
/// (2) that tree is the model's state after a whole group of operations j (group commit: the journal commits several
///     operations as one transaction, so the state must be at a commit boundary — all or none of a group's
///     metadata), at least every operation acknowledged by an fsync (or the unmount) whose flush completed before the
///     crash (fsync'd work is never lost; metadata is never half-applied);
/// (3) after Photon's replay, <c>e2fsck -fn</c> is clean;
/// (4) Linux's own replay (<c>e2fsck -E journal_only</c>) of the same crash image is also <c>e2fsck -fn</c> clean.
/// CI runs a bounded number of states; <c>PHOTON_CRASH_STATES=N</c> raises it (see README: "Crash-point testing").
/// </summary>
public sealed class Ext4CrashTests(ITestOutputHelper output)
{
    private static int Budget(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("PHOTON_CRASH_STATES"), out int n) && n > 0 ? n : ci;

    [Theory]
    [InlineData("8M", 1024, 1000)]
    [InlineData("16M", 4096, 400)]
    public async Task Ext4_EveryCrashState_IsConsistent_AndKeepsEverythingAcknowledged(string size, int blockSize, int ciStates)
    {
        using var s = new Ext4Scratch();
        var run = await RecordAsync(s, size, blockSize);
        bool longRun = Budget(ciStates) > ciStates;
        var states = CrashStates.Generate(run.Recorder.Log, Budget(ciStates), randomPerEpoch: longRun ? 40 : 12, seed: blockSize);
        var result = await CheckStatesAsync(s, run, run.Recorder.Log, states, stopAfter: 5);
        output.WriteLine($"ext4 {blockSize}-byte blocks: {run.Ops.Count} operations, {run.Recorder.Log.Count} log entries " +
                         $"({run.Recorder.Log.Count(e => e.IsFlush)} flushes), {states.Count} crash states generated, {result.Images} distinct images checked, " +
                         $"{result.ReplayedImages} images ({result.ReplayedStates} states) replayed committed transactions; {result.Figures}");
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures.Take(5)));
        Assert.True(result.ReplayedImages > 0, "no crash state had a committed transaction to replay");
        Assert.True(result.IdentityChecked > 0, "no image without needs_recovery was run through e2fsck -E journal_only to check that skipping it is sound");
        // Group commit is exercised: some transaction holds several operations, and crash states fall inside such a
        // group (two or more of its operations ended, its commit not yet complete).
        Assert.True(run.LargestGroup >= 3, $"largest committed group had {run.LargestGroup} operations");
        Assert.True(result.InsideGroups > 0, "no crash state fell inside an uncommitted group of several operations");
        output.WriteLine($"groups: {run.Commits.Count} commits for {run.Ops.Count(o => o.Kind != "fsync")} operations (largest {run.LargestGroup}); " +
                         $"{result.InsideGroups} states inside an uncommitted group of two or more ended operations");
    }

    /// <summary>
    /// The check can fail: the same log replayed on a disk that ignores flushes (any subset of the run's writes may
    /// persist, in any order) must give states that e2fsck finds damaged — ext4's safety is the journal's flush order.
    /// </summary>
    [Fact]
    public async Task Ext4_CrashCheck_CatchesTheWriteOrderBrokenByADiskThatIgnoresFlushes()
    {
        using var s = new Ext4Scratch();
        var run = await RecordAsync(s, "8M", 1024);
        var unordered = run.Recorder.Log.Where(e => !e.IsFlush).ToList();
        var states = CrashStates.Generate(unordered, 60, randomPerEpoch: 30, seed: 1024);
        var result = await CheckStatesAsync(s, run, unordered, states, stopAfter: int.MaxValue);
        output.WriteLine($"flushes ignored: {states.Count} states, {result.Images} distinct images, {result.Failures.Count} failures; " +
                         $"first e2fsck one: {result.Failures.FirstOrDefault(f => f.Contains("e2fsck -fn", StringComparison.Ordinal))}");
        Assert.Contains(result.Failures, f => f.Contains("e2fsck -fn", StringComparison.Ordinal));
    }

    /// <param name="Acked">Per operation: the log index of the last flush of the fsync (or the unmount) that first
    /// acknowledged it — from that flush on, it must survive every crash.</param>
    /// <param name="Ended">Per model state j: write operations ended after the first j operations.</param>
    /// <param name="LogAfter">Per operation: the log's length when it returned.</param>
    /// <param name="Commits">Each journal commit: operations committed so far and the log's length when it completed.</param>
    private sealed record RecordedRun(RecordingBlockDevice Recorder, List<CrashOp> Ops, List<TreeSnapshot> Model, List<int> Acked,
        List<long> Ended, List<int> LogAfter, List<(long Ops, int Log)> Commits)
    {
        /// <summary>Model state j is a commit boundary: the operations before it were committed together, none after.</summary>
        public bool IsBoundary(int j) => Ended[j] == 0 || Commits.Any(c => c.Ops == Ended[j]);

        /// <summary>The first boundary after state j (the end of the group that follows it), or the last state.</summary>
        public int NextBoundary(int j)
        {
            for (int k = j + 1; k < Model.Count; k++) if (Ended[k] > Ended[j] && IsBoundary(k)) return k;
            return Model.Count - 1;
        }

        public long LargestGroup => Commits.Select((c, i) => c.Ops - (i == 0 ? 0 : Commits[i - 1].Ops)).DefaultIfEmpty(0).Max();
    }

    /// <summary>Runs the workload on a recording device over a fresh mkfs.ext4 image, keeping the model state after every
    /// operation, the journal's commits (group boundaries) and the flush that acknowledged each operation.</summary>
    private static async Task<RecordedRun> RecordAsync(Ext4Scratch s, string size, int blockSize)
    {
        string mkfsImg = s.MakeImage("base.img", size, null, "-b", blockSize.ToString());
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(mkfsImg));
        var ops = CrashWorkloads.Mixed(blockSize);
        var mounted = await new Ext4FileSystemDriver().MountAsync(recorder, new MountOptions());
        Assert.True(mounted.IsOk, mounted.ToString());
        var fs = mounted.Value;
        var vol = ((Ext4FileSystem)fs).Volume;
        // Groups end by size, frees, fsync and unmount here; the age rule has its own test, and on a loaded machine it
        // would make the groups depend on timing.
        vol.Journal!.CommitInterval = TimeSpan.FromHours(1);
        var commits = new List<(long Ops, int Log)>();
        vol.Committed = n => commits.Add((n, recorder.Log.Count));
        var model = new List<TreeSnapshot> { await TreeSnapshot.TakeAsync(fs) };
        var ended = new List<long> { 0 };
        var logAfter = new List<int>();
        var acked = new List<int>();
        int unacked = 0;
        foreach (var op in ops)
        {
            var r = await op.RunAsync(fs);
            Assert.True(r.IsOk, $"{op}: {r}");
            logAfter.Add(recorder.Log.Count);
            ended.Add(vol.OperationsEnded);
            model.Add(await TreeSnapshot.TakeAsync(fs));
            acked.Add(int.MaxValue);
            if (op.Kind == "fsync")
            {
                Assert.Equal(0, vol.RunningOperations);
                for (; unacked < acked.Count; unacked++) acked[unacked] = LastFlushIndex(recorder.Log);
            }
        }
        await fs.DisposeAsync();
        for (; unacked < acked.Count; unacked++) acked[unacked] = LastFlushIndex(recorder.Log);
        var journal = vol.Journal;
        Assert.NotNull(journal);
        Assert.Equal(commits.Count, journal.Transactions);
        Assert.Equal(ops.Count(o => o.Kind != "fsync"), vol.OperationsCommitted);
        Assert.Equal(0, journal.Unjournaled);
        return new RecordedRun(recorder, ops, model, acked, ended, logAfter, commits);
    }

    private sealed record CheckResult(int Images, int ReplayedImages, int ReplayedStates, int IdentityChecked, string Figures, List<string> Failures, int InsideGroups = 0);

    /// <summary>Checks the states of <paramref name="log"/> (the recorded one, or a mutation of it) image by image.</summary>
    private static async Task<CheckResult> CheckStatesAsync(Ext4Scratch s, RecordedRun run, IReadOnlyList<BlockLogEntry> log,
        List<CrashState> states, int stopAfter)
    {
        var groups = CrashImageGroups.ByImage(run.Recorder.Base, log, states);
        var failures = new List<string>();
        int replayedImages = 0, replayedStates = 0;
        using var checker = new ImageChecker(s, run.Recorder.Base, log, run);
        // Operations whose fsync's flush completed before a state's cut must have survived (none, if the log has no flushes).
        bool anyFlush = log.Any(e => e.IsFlush);
        int Durable(CrashState state) => !anyFlush ? 0 : run.Acked.Count(f => f < state.Cut);
        // A state inside a group: two or more of the group's operations had ended and its commit had not completed.
        bool InsideGroup(CrashState state)
        {
            for (int j = 0; j < run.Model.Count - 1; j = run.NextBoundary(j))
            {
                if (!run.IsBoundary(j)) continue;
                int end = run.NextBoundary(j);
                var writes = Enumerable.Range(j, end - j).Where(k => run.Ops[k].Kind != "fsync").ToList();
                if (writes.Count < 2 || end == j) continue;
                int commitLog = run.Commits.FirstOrDefault(c => c.Ops == run.Ended[end]).Log;
                if (state.Cut > run.LogAfter[writes[1]] && state.Cut < commitLog) return true;
            }
            return false;
        }
        int insideGroups = 0;
        // Chunks bound the memory and scratch files in flight; within a chunk Photon's checks use both cores and the
        // Linux tools run as one batch per core.
        for (int first = 0; first < groups.Count && failures.Count < stopAfter; first += ImageChecker.ChunkImages)
        {
            var chunk = groups.Skip(first).Take(ImageChecker.ChunkImages).ToList();
            var verdicts = await checker.CheckAsync(chunk.Select((g, k) => ($"g{first + k}", g[0])).ToList());
            for (int k = 0; k < chunk.Count; k++)
            {
                var (group, verdict) = (chunk[k], verdicts[k]);
                if (verdict.Failure is not null) { failures.Add($"{group[0]} (+{group.Count - 1} identical): {verdict.Failure}"); continue; }
                if (verdict.Replayed) { replayedImages++; replayedStates += group.Count; }
                // What must have survived depends on the state's cut, not only on its image.
                foreach (var state in group)
                {
                    if (InsideGroup(state)) insideGroups++;
                    int durable = Durable(state);
                    if (verdict.LatestMatch < durable)
                        failures.Add($"{state}: matches no state after >= {durable} operations (latest {verdict.LatestMatch}): {verdict.Tree}");
                }
            }
        }
        return new CheckResult(groups.Count, replayedImages, replayedStates, checker.IdentityChecked, checker.Figures, failures, insideGroups);
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
    /// Checks distinct crash images, a chunk at a time: Photon's mounts, replay and tree on both cores, then Linux's
    /// replay of the images that need one and <c>e2fsck -fn</c> of every post-replay image not seen before, each as
    /// one batch per core (see <see cref="ToolBatch"/>). An image with needs_recovery clear and an empty journal
    /// (s_start 0) gives e2fsck nothing to replay, so its "Linux replay" is the image itself; the first
    /// <see cref="IdentitySamples"/> such images still go through <c>e2fsck -E journal_only</c>, which must leave them
    /// byte for byte unchanged. Replays of different crash images often converge on the same disk, so
    /// <c>e2fsck -fn</c> runs once per distinct post-replay image. Wall time per phase is kept for the figures.
    /// </summary>
    private sealed class ImageChecker : IDisposable
    {
        public const int ChunkImages = 16;
        private const int IdentitySamples = 8;
        private const uint IncompatRecover = 0x4;       // ext4 s_feature_incompat: needs_recovery
        private const int SuperblockIncompat = 1024 + 0x60;

        private readonly string _dir;
        private readonly byte[] _base;
        private readonly IReadOnlyList<BlockLogEntry> _log;
        private readonly RecordedRun _run;
        private readonly List<CrashOp> _ops;
        private readonly List<TreeSnapshot> _model;
        private readonly int _journalSuperblock;         // byte offset of the jbd2 superblock (the journal never moves)
        private readonly Dictionary<string, (int Code, string Output)> _fsck = new();
        private long _photon, _linuxReplay, _e2fsck, _tools;
        private int _fsckRuns, _fsckAsked, _replayRuns, _replaySkipped;

        public ImageChecker(Ext4Scratch s, byte[] baseImage, IReadOnlyList<BlockLogEntry> log, RecordedRun run)
        {
            (_base, _log, _run, _ops, _model) = (baseImage, log, run, run.Ops, run.Model);
            // The tools' image files go to tmpfs when there is one: written to a disk, thousands of 8-16 MiB images (and
            // e2fsck's fsync after a replay) make the run wait on disk writeback, not on the checks.
            _dir = Directory.Exists("/dev/shm") ? Path.Combine("/dev/shm", "photon-crash-" + Guid.NewGuid().ToString("N")[..12]) : s.PathOf("tools");
            Directory.CreateDirectory(_dir);
            _journalSuperblock = FindJournalSuperblock(baseImage);
        }

        public void Dispose()
        {
            try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }

        public int IdentityChecked { get; private set; }
        public string Figures =>
            $"e2fsck -E journal_only ran on {_replayRuns} images ({IdentityChecked} of them without needs_recovery, left unchanged as required; " +
            $"{_replaySkipped} skipped: nothing to replay), e2fsck -fn ran {_fsckRuns} times for {_fsckAsked} post-replay images; " +
            $"wall time: materialise + Photon mounts+replay+tree {Ms(_photon)} (both cores), e2fsck -E journal_only {Ms(_linuxReplay)}, e2fsck -fn {Ms(_e2fsck)} (of which the tools' own runs {Ms(_tools)}; the rest is writing, reading and hashing images)";

        private static string Ms(long ticks) => $"{ticks * 1000 / System.Diagnostics.Stopwatch.Frequency} ms";

        /// <summary>The base image's jbd2 superblock: the block starting with the jbd2 magic and a v1/v2 superblock type.</summary>
        private static int FindJournalSuperblock(byte[] image)
        {
            int bs = 1024 << (int)BitConverter.ToUInt32(image, 1024 + 0x18);
            var found = new List<int>();
            for (int off = 0; off + bs <= image.Length; off += bs)
                if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(off)) == 0xC03B3998
                    && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(off + 4)) is 3 or 4)
                    found.Add(off);
            Assert.True(found.Count == 1, $"expected one jbd2 superblock in the base image, found {found.Count}");
            return found[0];
        }

        /// <summary>What e2fsck's journal check looks at: needs_recovery, or a journal whose s_start is not 0 (which
        /// e2fsck -y replays too).</summary>
        private bool NeedsRecovery(byte[] image) =>
            (BitConverter.ToUInt32(image, SuperblockIncompat) & IncompatRecover) != 0
            || System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(image.AsSpan(_journalSuperblock + 0x1C)) != 0;

        private sealed record PhotonSide(ImageVerdict Verdict, byte[]? Crash = null, byte[]? Replayed = null);

        public async Task<ImageVerdict[]> CheckAsync(IReadOnlyList<(string Name, CrashState State)> chunk)
        {
            long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
            var photon = new PhotonSide[chunk.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, chunk.Count), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                async (k, _) => photon[k] = await PhotonCheckAsync(chunk[k].State));
            long t1 = System.Diagnostics.Stopwatch.GetTimestamp();
            _photon += t1 - t0;

            var verdicts = photon.Select(p => p.Verdict).ToArray();
            // Linux's replay: e2fsck -E journal_only -y on a copy of each crash image that needs it (and on a few that
            // do not, to keep checking that skipping them is sound).
            var linux = new byte[]?[chunk.Count];
            var replayFiles = new List<(int K, string Path, bool Identity)>();
            for (int k = 0; k < chunk.Count; k++)
            {
                if (photon[k].Crash is not { } crash) continue;
                bool needs = NeedsRecovery(crash);
                bool sample = !needs && IdentityChecked + replayFiles.Count(f => f.Identity) < IdentitySamples;
                if (!needs && !sample) { linux[k] = crash; _replaySkipped++; continue; }
                replayFiles.Add((k, Path.Combine(_dir, chunk[k].Name + "-linux.img"), !needs));
            }
            Parallel.ForEach(replayFiles, f => SparseImageFile.Write(f.Path, photon[f.K].Crash!));
            long tr = System.Diagnostics.Stopwatch.GetTimestamp();
            var replayed = ToolBatch.Run(replayFiles.Select(f => f.Path).ToList(), "e2fsck", "-E", "journal_only", "-y");
            _tools += System.Diagnostics.Stopwatch.GetTimestamp() - tr;
            _replayRuns += replayFiles.Count;
            Parallel.For(0, replayFiles.Count, i =>
            {
                var (k, path, identity) = replayFiles[i];
                var bytes = File.ReadAllBytes(path);
                File.Delete(path);
                if (replayed[i].Code > 1) verdicts[k] = new($"e2fsck -E journal_only exited {replayed[i].Code}: {replayed[i].Output}");
                else if (identity && !bytes.AsSpan().SequenceEqual(photon[k].Crash)) verdicts[k] = new("e2fsck -E journal_only changed an image without needs_recovery");
                else linux[k] = bytes;
            });
            IdentityChecked += replayFiles.Count(f => f.Identity);
            long t2 = System.Diagnostics.Stopwatch.GetTimestamp();
            _linuxReplay += t2 - t1;

            // e2fsck -fn of both replays of every image still passing, once per distinct post-replay image (the two
            // replays usually agree byte for byte, so that is checked before hashing).
            var keys = new (string Photon, string Linux)[chunk.Count];
            Parallel.For(0, chunk.Count, k =>
            {
                if (verdicts[k].Failure is not null || linux[k] is null) return;
                string photonKey = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(photon[k].Replayed!));
                keys[k] = (photonKey, linux[k].AsSpan().SequenceEqual(photon[k].Replayed)
                    ? photonKey : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(linux[k]!)));
            });
            var pending = new Dictionary<string, (string Path, byte[] Image)>();
            for (int k = 0; k < chunk.Count; k++)
            {
                if (verdicts[k].Failure is not null || linux[k] is null) continue;
                _fsckAsked += 2;
                if (!_fsck.ContainsKey(keys[k].Photon)) pending.TryAdd(keys[k].Photon, (Path.Combine(_dir, chunk[k].Name + "-photon.img"), photon[k].Replayed!));
                if (!_fsck.ContainsKey(keys[k].Linux)) pending.TryAdd(keys[k].Linux, (Path.Combine(_dir, chunk[k].Name + "-linux.img"), linux[k]!));
            }
            Parallel.ForEach(pending.Values, p => SparseImageFile.Write(p.Path, p.Image));
            var runs = pending.ToList();
            long tf = System.Diagnostics.Stopwatch.GetTimestamp();
            var fsck = ToolBatch.Run(runs.Select(r => r.Value.Path).ToList(), "e2fsck", "-fn");
            _tools += System.Diagnostics.Stopwatch.GetTimestamp() - tf;
            _fsckRuns += runs.Count;
            for (int i = 0; i < runs.Count; i++)
            {
                _fsck[runs[i].Key] = fsck[i];
                File.Delete(runs[i].Value.Path);
            }
            for (int k = 0; k < chunk.Count; k++)
            {
                if (verdicts[k].Failure is not null || linux[k] is null) continue;
                var (pc, po) = _fsck[keys[k].Photon];
                var (lc, lo) = _fsck[keys[k].Linux];
                if (pc != 0) verdicts[k] = new($"e2fsck -fn after Photon's replay exited {pc}: {po}");
                else if (lc != 0) verdicts[k] = new($"e2fsck -fn after Linux's replay exited {lc}: {lo}");
            }
            _e2fsck += System.Diagnostics.Stopwatch.GetTimestamp() - t2;
            return verdicts;
        }

        /// <summary>Photon's side of one image: read-only and read-write mounts agree and match a model state.</summary>
        private async Task<PhotonSide> PhotonCheckAsync(CrashState state)
        {
            var image = state.Build(_base, _log);

            // Read-only: replay in memory, nothing written.
            var roDevice = new MemoryBlockDevice((byte[])image.Clone());
            var ro = await new Ext4FileSystemDriver().MountAsync(roDevice, new MountOptions(ReadOnly: true));
            if (!ro.IsOk) return new(new("read-only mount failed: " + ro.Error));
            TreeSnapshot roTree;
            try { roTree = await TreeSnapshot.TakeAsync(ro.Value); }
            catch (InvalidOperationException e) { return new(new("read-only mount: " + e.Message)); }
            finally { await ro.Value.DisposeAsync(); }
            if (roDevice.Writes != 0) return new(new($"the read-only mount wrote {roDevice.Writes} times"));

            var rwDevice = new MemoryBlockDevice((byte[])image.Clone());
            var rw = await new Ext4FileSystemDriver().MountAsync(rwDevice, new MountOptions());
            if (!rw.IsOk) return new(new("read-write mount failed: " + rw.Error));
            bool hadReplay = ((Ext4FileSystem)rw.Value).Volume.Journal is { Recovered: > 0 };
            TreeSnapshot tree;
            try { tree = await TreeSnapshot.TakeAsync(rw.Value); }
            catch (InvalidOperationException e) { return new(new("read-write mount: " + e.Message)); }
            finally { await rw.Value.DisposeAsync(); }
            if (!roTree.Matches(tree, new HashSet<string>())) return new(new($"read-only and read-write replays differ:\n  ro {roTree}\n  rw {tree}"));

            // Only commit boundaries: a tree between them would be half a group. The data that the next group's
            // operations wrote in place over existing bytes may have landed (ordered mode journals metadata, not data).
            int match = -1;
            for (int j = _model.Count - 1; j >= 0 && match < 0; j--)
            {
                if (!_run.IsBoundary(j)) continue;
                var loose = new HashSet<string>();
                for (int k = j; k < _run.NextBoundary(j); k++) if (_ops[k].WritesDataInPlace) loose.Add(_ops[k].Path);
                if (tree.Matches(_model[j], loose)) match = j;
            }
            if (match < 0) return new(new($"matches no model state at a commit boundary: {tree}"));
            return new(new(null, hadReplay, match, tree), image, rwDevice.Data);
        }
    }
}
