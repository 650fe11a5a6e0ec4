using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// Crash states of FAT12/16/32 (same recorder and generator as ext4). FAT has no journal; its flush writes in an order
/// (see <c>FatFileSystem.WriteBackAsync</c>) under which every crash state mounts, files fsync'd before the cut (and not
/// touched afterwards) read back exactly, and <c>fsck.vfat -n</c> finds nothing but lost clusters (unreferenced, or the
/// tail of a chain longer than its file's size), differing FAT copies and the advisory FSInfo count — never shared
/// clusters, a size past its chain or a damaged directory. Allowed findings are counted and printed for the README.
/// </summary>
public sealed class FatCrashTests(ITestOutputHelper output)
{
    private static int Budget(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("PHOTON_CRASH_STATES"), out int n) && n > 0 ? n : ci;

    [Theory]
    [InlineData(12, 300)]
    [InlineData(16, 300)]
    [InlineData(32, 300)]
    public async Task Fat_CrashStates_Mount_KeepFsyncedFiles_AndShowOnlyLostClusters(int bits, int ciStates)
    {
        using var image = FatImage.Create(bits);
        var (recorder, synced) = await RecordWorkloadAsync(image, bits);
        // FAT's log is short (a few dozen writes), so many random reorderings per epoch are needed to reach the budget.
        bool longRun = Budget(ciStates) > ciStates;
        var states = CrashStates.Generate(recorder.Log, Budget(ciStates), randomPerEpoch: longRun ? 200 : 64, seed: bits);
        var result = await CheckStatesAsync(image, recorder.Base, recorder.Log, synced, states);
        output.WriteLine($"FAT{bits}: {recorder.Log.Count} log entries ({recorder.Log.Count(e => e.IsFlush)} flushes), {states.Count} crash states generated, " +
                         $"{result.Images} distinct images checked, {result.Mounted} mounted, {result.FsckClean} fsck.vfat-clean; " +
                         $"allowed findings (per image): {string.Join("; ", result.Findings.Select(f => $"{f.Key} x{f.Value}"))}");
        Assert.True(result.Failures.Count == 0, string.Join("\n", result.Failures.Take(5)));
    }

    /// <summary>
    /// The check can fail: the same log replayed on a disk that ignores flushes (every write of the run may persist or
    /// not, in any order) must produce states fsck.vfat finds damaged beyond lost clusters — FAT's safety is its order.
    /// </summary>
    [Fact]
    public async Task Fat_CrashCheck_CatchesTheWriteOrderBrokenByADiskThatIgnoresFlushes()
    {
        using var image = FatImage.Create(16);
        var (recorder, _) = await RecordWorkloadAsync(image, 16);
        var unordered = recorder.Log.Where(e => !e.IsFlush).ToList();
        var states = CrashStates.Generate(unordered, 200, randomPerEpoch: 20, seed: 16);
        var result = await CheckStatesAsync(image, recorder.Base, unordered, [], states);
        output.WriteLine($"flushes ignored: {states.Count} states, {result.Images} distinct images, {result.Failures.Count} failures; first: {result.Failures.FirstOrDefault()}");
        Assert.Contains(result.Failures, f => f.Contains("fsck.vfat:", StringComparison.Ordinal));
    }

    private sealed record SyncedFile(string Path, byte[] Data, int DurableAt);

    /// <summary>Runs the FAT workload on a recording device; returns it and the files fsync'd and never touched again.</summary>
    private static async Task<(RecordingBlockDevice Recorder, List<SyncedFile> Synced)> RecordWorkloadAsync(FatImage image, int bits)
    {
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(image.Path));
        var fs = (await new FatFileSystemDriver().MountAsync(recorder, new MountOptions())).Value;
        byte[] R(int n, int s) { var b = new byte[n]; new Random(bits * 100 + s).NextBytes(b); return b; }
        // Files written then fsync'd, never touched again, and the log index after which they must survive.
        var synced = new List<SyncedFile>();
        async Task Op(ValueTask<Result> r) => Assert.True((await r).IsOk);
        async Task Fsync(params (string, byte[])[] files)
        {
            await Op(fs.FlushAsync());
            foreach (var (p, d) in files) synced.Add(new(p, d, recorder.Log.Count));
        }
        var keep1 = R(9000, 1); var keep2 = R(40_000, 2); var keep3 = R(3000, 3);
        await Op(fs.CreateDirectoryAsync("/KEEP"));
        await Op(fs.CreateFileAsync("/KEEP/ONE.BIN"));
        await Op(fs.WriteAsync("/KEEP/ONE.BIN", 0, keep1));
        await Fsync(("/KEEP/ONE.BIN", keep1));
        await Op(fs.CreateDirectoryAsync("/WORK"));
        await Op(fs.CreateFileAsync("/WORK/A.TXT"));
        await Op(fs.WriteAsync("/WORK/A.TXT", 0, R(12_000, 4)));
        await Op(fs.CreateFileAsync("/KEEP/Long file name two.bin"));
        await Op(fs.WriteAsync("/KEEP/Long file name two.bin", 0, keep2));
        await Fsync(("/KEEP/Long file name two.bin", keep2));
        await Op(fs.RenameAsync("/WORK/A.TXT", "/WORK/B.TXT"));
        await Op(fs.WriteAsync("/WORK/B.TXT", 12_000, R(30_000, 5)));
        await Op(fs.TruncateAsync("/WORK/B.TXT", 5000));
        await Op(fs.CreateFileAsync("/KEEP/THREE"));
        await Op(fs.WriteAsync("/KEEP/THREE", 0, keep3));
        await Fsync(("/KEEP/THREE", keep3));
        await Op(fs.DeleteAsync("/WORK/B.TXT"));
        await Op(fs.CreateFileAsync("/WORK/C"));
        await Op(fs.WriteAsync("/WORK/C", 0, R(70_000, 6)));
        await fs.DisposeAsync();
        return (recorder, synced);
    }

    private sealed record CheckResult(int Images, int Mounted, int FsckClean, List<string> Failures, SortedDictionary<string, int> Findings);

    /// <summary>
    /// Checks each distinct image once (mount, read every fsync'd file, <c>fsck.vfat -n</c>), a chunk at a time: the
    /// mounts on both cores, then fsck.vfat over the chunk as one batch per core (see <see cref="ToolBatch"/>); then
    /// each state against what was durable at its cut.
    /// </summary>
    private static async Task<CheckResult> CheckStatesAsync(FatImage image, byte[] baseImage, IReadOnlyList<BlockLogEntry> log,
        List<SyncedFile> synced, List<CrashState> states)
    {
        const int chunkImages = 32;
        var groups = CrashImageGroups.ByImage(baseImage, log, states);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var findings = new SortedDictionary<string, int>();
        int fsckClean = 0, mounted = 0;
        for (int first = 0; first < groups.Count && failures.Count < 5; first += chunkImages)
        {
            int count = Math.Min(chunkImages, groups.Count - first);
            var files = new string?[count];
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                async (k, _) =>
                {
                    int g = first + k;
                    var group = groups[g];
                    var bytes = group[0].Build(baseImage, log);
                    // A read-only mount writes nothing (checked below), so it can read the image's own bytes.
                    var dev = new MemoryBlockDevice(bytes);
                    var mount = new FatFileSystemDriver().MountAsync(dev, new MountOptions(ReadOnly: true)).AsTask();
                    if (await Task.WhenAny(mount, Task.Delay(TimeSpan.FromSeconds(20))) != mount) { failures.Enqueue($"{group[0]}: mount hung"); return; }
                    var m = await mount;
                    if (!m.IsOk) { failures.Enqueue($"{group[0]} (+{group.Count - 1} identical): mount failed: {m.Error}"); return; }
                    Interlocked.Increment(ref mounted);
                    var lost = new Dictionary<string, string>();
                    foreach (var file in synced)
                    {
                        var got = new byte[file.Data.Length + 1];
                        var n = await m.Value.ReadAsync(file.Path, 0, got);
                        if (!n.IsOk || n.Value != file.Data.Length || !got.AsSpan(0, file.Data.Length).SequenceEqual(file.Data))
                            lost[file.Path] = n.IsOk ? n.Value + " bytes" : n.Error.ToString();
                    }
                    await m.Value.DisposeAsync();
                    if (dev.Writes != 0) { failures.Enqueue($"{group[0]}: the read-only mount wrote {dev.Writes} times"); return; }
                    // Which files must read back depends on the state's last completed flush, not only on its image.
                    foreach (var state in group)
                    {
                        int lastFlush = -1;
                        for (int i = state.Cut - 1; i >= 0; i--) if (log[i].IsFlush) { lastFlush = i; break; }
                        foreach (var file in synced.Where(f => f.DurableAt <= lastFlush + 1 && lost.ContainsKey(f.Path)))
                            failures.Enqueue($"{state}: fsync'd {file.Path} lost ({lost[file.Path]})");
                    }
                    string img = image.HostFile($"crash-{g}.img");
                    SparseImageFile.Write(img, bytes);
                    files[k] = img;
                });
            var checkedFiles = Enumerable.Range(0, count).Where(k => files[k] is not null).ToList();
            var fsckRuns = ToolBatch.Run(checkedFiles.Select(k => files[k]!).ToList(), "fsck.vfat", "-n");
            for (int i = 0; i < checkedFiles.Count; i++)
            {
                int k = checkedFiles[i];
                var group = groups[first + k];
                File.Delete(files[k]!);
                var fsck = Fat.FatFsckFindings.Parse(fsckRuns[i].Code, fsckRuns[i].Output);
                if (fsck.Clean) fsckClean++;
                foreach (var f in fsck.Allowed.Distinct()) findings[f] = findings.GetValueOrDefault(f) + 1;
                foreach (var f in fsck.Forbidden.Distinct()) failures.Enqueue($"{group[0]} (+{group.Count - 1} identical): fsck.vfat: {f}\n{fsck.Output}");
            }
        }
        return new CheckResult(groups.Count, mounted, fsckClean, failures.ToList(), findings);
    }
}
