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
    [InlineData("8M", 1024, 160)]
    [InlineData("16M", 4096, 90)]
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

        var states = CrashStates.Generate(recorder.Log, Budget(ciStates), randomPerEpoch: Budget(ciStates) > ciStates ? 40 : 3, seed: blockSize);
        var failures = new List<string>();
        int replayed = 0;
        foreach (var state in states)
        {
            string? why = await CheckAsync(s, state, recorder, ops, model, lastFlush);
            if (why is "replayed") { replayed++; continue; }
            if (why is not null) failures.Add($"{state}: {why}");
            if (failures.Count >= 5) break;
        }
        output.WriteLine($"ext4 {blockSize}-byte blocks: {ops.Count} operations, {recorder.Log.Count} log entries " +
                         $"({recorder.Log.Count(e => e.IsFlush)} flushes), {states.Count} crash states checked, {replayed} replayed committed transactions");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(replayed > 0, "no crash state had a committed transaction to replay");
    }

    private static int LastFlushIndex(IReadOnlyList<BlockLogEntry> log)
    {
        for (int i = log.Count - 1; i >= 0; i--) if (log[i].IsFlush) return i;
        return -1;
    }

    /// <summary>Null if the state is fine, "replayed" if fine and Photon replayed a committed transaction, else why not.</summary>
    private static async Task<string?> CheckAsync(Ext4Scratch s, CrashState state, RecordingBlockDevice recorder,
        List<CrashOp> ops, List<TreeSnapshot> model, List<int> lastFlush)
    {
        var image = state.Build(recorder.Base, recorder.Log);
        int durable = lastFlush.Count(f => f < state.Cut);

        // Read-only: replay in memory, nothing written.
        var roDevice = new MemoryBlockDevice((byte[])image.Clone());
        var ro = await new Ext4FileSystemDriver().MountAsync(roDevice, new MountOptions(ReadOnly: true));
        if (!ro.IsOk) return "read-only mount failed: " + ro.Error;
        TreeSnapshot roTree;
        try { roTree = await TreeSnapshot.TakeAsync(ro.Value); }
        catch (InvalidOperationException e) { return "read-only mount: " + e.Message; }
        finally { await ro.Value.DisposeAsync(); }
        if (roDevice.Writes != 0) return $"the read-only mount wrote {roDevice.Writes} times";

        var rwDevice = new MemoryBlockDevice((byte[])image.Clone());
        var rw = await new Ext4FileSystemDriver().MountAsync(rwDevice, new MountOptions());
        if (!rw.IsOk) return "read-write mount failed: " + rw.Error;
        bool hadReplay = ((Ext4FileSystem)rw.Value).Volume.Journal is { Recovered: > 0 };
        TreeSnapshot tree;
        try { tree = await TreeSnapshot.TakeAsync(rw.Value); }
        catch (InvalidOperationException e) { return "read-write mount: " + e.Message; }
        finally { await rw.Value.DisposeAsync(); }
        if (!roTree.Matches(tree, new HashSet<string>())) return $"read-only and read-write replays differ:\n  ro {roTree}\n  rw {tree}";

        int match = -1;
        for (int j = durable; j < model.Count && match < 0; j++)
        {
            var loose = j + 1 < model.Count && ops[j].WritesDataInPlace ? new HashSet<string> { ops[j].Path } : new HashSet<string>();
            if (tree.Matches(model[j], loose)) match = j;
        }
        if (match < 0) return $"matches no state after >= {durable} operations: {tree}";

        string photonImg = s.PathOf("photon.img");
        await File.WriteAllBytesAsync(photonImg, rwDevice.Data);
        var (code, fsck) = Ext4Scratch.Fsck(photonImg);
        if (code != 0) return $"e2fsck -fn after Photon's replay exited {code}: {fsck}";

        string linuxImg = s.PathOf("linux.img");
        await File.WriteAllBytesAsync(linuxImg, image);
        var (jcode, jout) = Ext4Scratch.Run("e2fsck", "-E", "journal_only", "-y", linuxImg);
        if (jcode > 1) return $"e2fsck -E journal_only exited {jcode}: {jout}";
        (code, fsck) = Ext4Scratch.Fsck(linuxImg);
        if (code != 0) return $"e2fsck -fn after Linux's replay exited {code}: {fsck}";
        return hadReplay ? "replayed" : null;
    }
}
