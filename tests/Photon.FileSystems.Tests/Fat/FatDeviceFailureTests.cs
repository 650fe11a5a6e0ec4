using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Vfs;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>
/// A device that fails part-way through a workload (every request from the N-th on answers IoError or Revoked): each
/// operation returns Ok or that same typed error — nothing throws, nothing is reported as corruption — and the disk
/// left behind mounts, shows fsck.vfat at most lost clusters (FAT's write order), and keeps every file flushed before.
/// </summary>
public sealed class FatDeviceFailureTests(ITestOutputHelper output)
{
    private static int Budget(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("PHOTON_FAILURE_POINTS"), out int n) && n > 0 ? n : ci;

    private sealed record Outcome(long Requests, List<(string Path, byte[] Data)> Synced, List<string> Unexpected);

    /// <summary>
    /// A mix of every mutating call with flushes; files flushed are never touched again. The run stops at the first
    /// failed call (later calls would only meet its consequences, e.g. NotFound for a directory never created).
    /// </summary>
    private static async Task<Outcome> RunWorkloadAsync(FailingBlockDevice device, int seed)
    {
        byte[] R(int n, int s) { var b = new byte[n]; new Random(seed * 100 + s).NextBytes(b); return b; }
        var synced = new List<(string, byte[])>();
        var unexpected = new List<string>();
        var written = new List<(string, byte[])>();
        bool failed = false;
        bool Expect(string what, Result r)
        {
            if (r.IsOk) return true;
            if (r.Code != device.Failure) unexpected.Add($"{what}: {r.Error}");
            failed = true;
            return false;
        }
        var mount = await new FatFileSystemDriver().MountAsync(device, new MountOptions());
        if (!Expect("mount", mount.AsResult())) return new Outcome(device.Requests, synced, unexpected);
        var fs = mount.Value;
        async Task Op(string what, Func<ValueTask<Result>> call)
        {
            if (!failed) Expect(what, await call());
        }
        async Task Write(string path, byte[] data)
        {
            await Op("create " + path, () => fs.CreateFileAsync(path));
            await Op("write " + path, () => fs.WriteAsync(path, 0, data));
            if (!failed) written.Add((path, data));
        }
        async Task Flush()
        {
            await Op("flush", () => fs.FlushAsync());
            if (!failed) synced.AddRange(written);
            written.Clear();
        }
        await Op("mkdir", () => fs.CreateDirectoryAsync("/KEEP"));
        await Write("/KEEP/ONE.BIN", R(9000, 1));
        await Flush();
        await Op("mkdir", () => fs.CreateDirectoryAsync("/WORK"));
        await Write("/WORK/A.TXT", R(12_000, 2));
        written.Clear();
        await Write("/KEEP/Long file name two.bin", R(40_000, 3));
        await Flush();
        await Op("rename", () => fs.RenameAsync("/WORK/A.TXT", "/WORK/Renamed b.txt"));
        await Op("append", () => fs.WriteAsync("/WORK/Renamed b.txt", 12_000, R(30_000, 4)));
        await Op("truncate", () => fs.TruncateAsync("/WORK/Renamed b.txt", 5000));
        await Write("/KEEP/THREE", R(3000, 5));
        await Flush();
        await Op("delete", () => fs.DeleteAsync("/WORK/Renamed b.txt"));
        await Op("mkdir", () => fs.CreateDirectoryAsync("/WORK/SUB"));
        await Write("/WORK/SUB/C", R(70_000, 6));
        await Flush();
        // Closing after a failure flushes once more: it must fail typed too, never throw.
        await fs.DisposeAsync();
        return new Outcome(device.Requests, synced, unexpected);
    }

    [Theory]
    [InlineData(12, 40)]
    [InlineData(16, 40)]
    [InlineData(32, 40)]
    public async Task Fat_DeviceFailingAtAnyRequest_IsATypedError_AndLeavesOnlyLostClusters(int bits, int ciPoints)
    {
        using var image = FatImage.Create(bits);
        var pristine = File.ReadAllBytes(image.Path);
        var healthy = await RunWorkloadAsync(new FailingBlockDevice(new MemoryBlockDevice((byte[])pristine.Clone()), long.MaxValue), bits);
        Assert.Empty(healthy.Unexpected);
        int points = (int)Math.Min(healthy.Requests + 1, Budget(ciPoints));
        var failures = new List<string>();
        int clean = 0;
        var findings = new SortedDictionary<string, int>();
        string img = image.HostFile("failed.img");
        foreach (var code in new[] { ErrorCode.IoError, ErrorCode.Revoked })
        {
            for (int k = 0; k < points; k++)
            {
                long failAfter = k * healthy.Requests / Math.Max(points - 1, 1) + (code == ErrorCode.Revoked ? 1 : 0);
                var disk = new MemoryBlockDevice((byte[])pristine.Clone());
                var run = await RunWorkloadAsync(new FailingBlockDevice(disk, failAfter, code), bits);
                failures.AddRange(run.Unexpected.Select(u => $"{code} after {failAfter}: {u}"));

                var remount = await new FatFileSystemDriver().MountAsync(new MemoryBlockDevice((byte[])disk.Data.Clone()), new MountOptions(ReadOnly: true));
                if (!remount.IsOk) { failures.Add($"{code} after {failAfter}: remount failed: {remount.Error}"); continue; }
                foreach (var (path, data) in run.Synced)
                {
                    var got = new byte[data.Length + 1];
                    var n = await remount.Value.ReadAsync(path, 0, got);
                    if (!n.IsOk || n.Value != data.Length || !got.AsSpan(0, data.Length).SequenceEqual(data))
                        failures.Add($"{code} after {failAfter}: flushed {path} lost ({(n.IsOk ? n.Value + " bytes" : n.Error.ToString())})");
                }
                await remount.Value.DisposeAsync();
                await File.WriteAllBytesAsync(img, disk.Data);
                var fsck = FatFsckFindings.Check(img);
                if (fsck.Clean) clean++;
                foreach (var f in fsck.Allowed.Distinct()) findings[f] = findings.GetValueOrDefault(f) + 1;
                foreach (var f in fsck.Forbidden.Distinct()) failures.Add($"{code} after {failAfter}: fsck.vfat: {f}\n{fsck.Output}");
                if (failures.Count >= 5) break;
            }
        }
        output.WriteLine($"FAT{bits}: workload makes {healthy.Requests} device requests; {2 * points} failure points, {clean} fsck.vfat-clean; " +
                         $"allowed findings: {string.Join("; ", findings.Select(f => $"{f.Key} x{f.Value}"))}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Fat_DeviceGoneUnderAnOpenFile_ReachesTheFileSyscallCallerAsRevoked()
    {
        using var image = FatImage.Create(16);
        image.Put(FatTestExtensions.RandomBytes(5000, 1), "/data.bin");
        await using var k = new VfsKernel();
        var inner = await k.OpenDeviceAsync(image.Path);
        var gone = new FailingBlockDevice(inner, 0, ErrorCode.Revoked);
        Assert.Equal(ErrorCode.Revoked, (await k.Vfs.MountAsync(new FatFileSystemDriver(), gone, new MountOptions(), Principal.Kernel)).Code);

        var device = new SwitchableDevice(inner);
        var mounted = (await k.Vfs.MountAsync(new FatFileSystemDriver(), device, new MountOptions(), Principal.Kernel)).Value;
        var p = k.Tenant("t", mounted, Rights.Read | Rights.Write | Rights.Create | Rights.Enumerate | Rights.Delete);
        var h = (await k.Files.OpenAsync(p, "/mnt/data/data.bin", Rights.ReadWrite)).Value;
        device.Gone = true;
        try
        {
            Assert.Equal(ErrorCode.Revoked, (await k.Files.ReadAsync(p, h, 0, new byte[4096])).Code);
            Assert.Equal(ErrorCode.Revoked, (await k.Files.WriteAsync(p, h, 100_000, new byte[4096])).Code);
            Assert.Equal(ErrorCode.Revoked, (await k.Files.FlushAsync(p, h)).Code);
        }
        finally { device.Gone = false; }
        // The device is back: the failed write was rolled back, so the file is as it was and the volume is clean.
        Assert.Equal(5000, (await k.Files.StatAsync(p, h)).Value.Length);
        Assert.True((await k.Files.FlushAsync(p, h)).IsOk);
        Assert.True(k.Files.Close(p, h).IsOk);
        Assert.True((await k.Vfs.UnmountAsync(mounted, Principal.Kernel)).IsOk);
        image.AssertFsckClean();
    }

    /// <summary>A device that answers Revoked while <see cref="Gone"/> is set.</summary>
    private sealed class SwitchableDevice(Photon.Kernel.Io.IBlockDevice inner) : Photon.Kernel.Io.IBlockDevice
    {
        public bool Gone { get; set; }
        public string Name => "switchable";
        public int SectorSize => inner.SectorSize;
        public long SectorCount => inner.SectorCount;
        public bool IsReadOnly => inner.IsReadOnly;
        private static ValueTask<Result> Revoked() => ValueTask.FromResult(Result.Fail(ErrorCode.Revoked, "device removed"));
        public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken ct = default) => Gone ? Revoked() : inner.ReadAsync(lba, buffer, ct);
        public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken ct = default) => Gone ? Revoked() : inner.WriteAsync(lba, data, ct);
        public ValueTask<Result> FlushAsync(CancellationToken ct = default) => Gone ? Revoked() : inner.FlushAsync(ct);
    }
}
