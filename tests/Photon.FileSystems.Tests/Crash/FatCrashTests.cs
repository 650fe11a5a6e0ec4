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
    [InlineData(12, 40)]
    [InlineData(16, 40)]
    [InlineData(32, 40)]
    public async Task Fat_CrashStates_Mount_KeepFsyncedFiles_AndShowOnlyLostClusters(int bits, int ciStates)
    {
        using var image = FatImage.Create(bits);
        var recorder = new RecordingBlockDevice(File.ReadAllBytes(image.Path));
        var fs = (await new FatFileSystemDriver().MountAsync(recorder, new MountOptions())).Value;
        byte[] R(int n, int s) { var b = new byte[n]; new Random(bits * 100 + s).NextBytes(b); return b; }
        // Files written then fsync'd, never touched again, and the log index after which they must survive.
        var synced = new List<(string Path, byte[] Data, int DurableAt)>();
        async Task Op(ValueTask<Result> r) => Assert.True((await r).IsOk);
        async Task Fsync(params (string, byte[])[] files)
        {
            await Op(fs.FlushAsync());
            foreach (var (p, d) in files) synced.Add((p, d, recorder.Log.Count));
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

        var states = CrashStates.Generate(recorder.Log, Budget(ciStates), randomPerEpoch: Budget(ciStates) > ciStates ? 40 : 4, seed: bits);
        var failures = new List<string>();
        int fsckClean = 0, mounted = 0;
        var findings = new SortedDictionary<string, int>();
        string img = image.HostFile("crash.img");
        foreach (var state in states)
        {
            var bytes = state.Build(recorder.Base, recorder.Log);
            int lastFlush = -1;
            for (int i = state.Cut - 1; i >= 0; i--) if (recorder.Log[i].IsFlush) { lastFlush = i; break; }
            var dev = new MemoryBlockDevice((byte[])bytes.Clone());
            var mount = new FatFileSystemDriver().MountAsync(dev, new MountOptions(ReadOnly: true)).AsTask();
            if (await Task.WhenAny(mount, Task.Delay(TimeSpan.FromSeconds(20))) != mount) { failures.Add($"{state}: mount hung"); break; }
            var m = await mount;
            if (!m.IsOk)
            {
                failures.Add($"{state}: mount failed: {m.Error}");
                continue;
            }
            mounted++;
            foreach (var (path, data, durableAt) in synced.Where(f => f.DurableAt <= lastFlush + 1))
            {
                var got = new byte[data.Length + 1];
                var n = await m.Value.ReadAsync(path, 0, got);
                if (!n.IsOk || n.Value != data.Length || !got.AsSpan(0, data.Length).SequenceEqual(data))
                    failures.Add($"{state}: fsync'd {path} lost ({(n.IsOk ? n.Value + " bytes" : n.Error.ToString())})");
            }
            await m.Value.DisposeAsync();
            await File.WriteAllBytesAsync(img, bytes);
            var fsck = Fat.FatFsckFindings.Check(img);
            if (fsck.Clean) fsckClean++;
            foreach (var f in fsck.Allowed.Distinct()) findings[f] = findings.GetValueOrDefault(f) + 1;
            foreach (var f in fsck.Forbidden.Distinct()) failures.Add($"{state}: fsck.vfat: {f}\n{fsck.Output}");
            if (failures.Count >= 5) break;
        }
        output.WriteLine($"FAT{bits}: {recorder.Log.Count} log entries ({recorder.Log.Count(e => e.IsFlush)} flushes), {states.Count} crash states, " +
                         $"{mounted} mounted, {fsckClean} fsck.vfat-clean; allowed findings: {string.Join("; ", findings.Select(f => $"{f.Key} x{f.Value}"))}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
