using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

public sealed class NvmeBlockDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-nvme-").FullName;
    private readonly CapabilityManager _caps = new();

    public void Dispose() => Directory.Delete(_dir, true);

    private string Image(long bytes)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        File.WriteAllBytes(path, []);
        using (var f = File.OpenWrite(path)) f.SetLength(bytes);
        return path;
    }

    private static byte[] Pattern(long lba, int length, int seed)
    {
        var b = new byte[length];
        new Random(HashCode.Combine(lba, seed)).NextBytes(b);
        return b;
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public async Task Many_tasks_on_several_queue_pairs_read_back_exactly_what_they_wrote(int sectorSize)
    {
        var path = Image(8L * 1024 * 1024);
        var storage = HostImageStorage.Open(path).Value;
        var (dev, cap) = NvmeBlockDevice.Start(storage, _caps, new NvmeOptions(QueuePairs: 4, QueueDepth: 8, SectorSize: sectorSize)).Value;
        long blocks = dev.SectorCount;
        var writes = Enumerable.Range(0, 400).Select(async i =>
        {
            long lba = (i * 7919L) % blocks;
            Assert.True((await dev.WriteAsync(cap, lba, Pattern(lba, sectorSize, 1))).IsOk);
        });
        await Task.WhenAll(writes);
        Assert.True((await dev.FlushAsync(cap)).IsOk);
        var reads = Enumerable.Range(0, 400).Select(async i =>
        {
            long lba = (i * 7919L) % blocks;
            var buf = new byte[sectorSize];
            Assert.True((await dev.ReadAsync(cap, lba, buf)).IsOk);
            Assert.Equal(Pattern(lba, sectorSize, 1), buf);
        });
        await Task.WhenAll(reads);
        // Every request was served: through some pair (a thread has a home pair; others take over when it is full or
        // drained), or, on io_uring, straight from its submitter (reads and writes; the flush always takes a pair).
        Assert.Equal(801, dev.Queues.Sum(q => q.Stats.Completed) + dev.DirectRequests);
        Assert.True(dev.Queues.Sum(q => q.Stats.Completed) >= 1);
        await dev.DisposeAsync();
        await storage.DisposeAsync();
        // The host file holds the same bytes.
        var raw = await File.ReadAllBytesAsync(path);
        long probe = (5 * 7919L) % blocks;
        Assert.Equal(Pattern(probe, sectorSize, 1), raw.AsSpan((int)(probe * sectorSize), sectorSize).ToArray());
    }

    [Fact]
    public async Task Injected_faults_surface_as_IoError_and_no_acknowledged_write_is_lost()
    {
        var path = Image(2L * 1024 * 1024);
        var faulty = new FaultInjectingStorage(HostImageStorage.Open(path).Value, 512);
        var rng = new Random(42);
        var bad = Enumerable.Range(0, 30).Select(_ => (long)rng.Next(0, 4096)).ToHashSet();
        foreach (var s in bad.Take(15)) faulty.FailWrites(s);
        foreach (var s in bad.Skip(15)) faulty.ShortWrite(s);
        var (dev, cap) = NvmeBlockDevice.Start(faulty, _caps, new NvmeOptions(QueuePairs: 2, QueueDepth: 16)).Value;
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<long, byte[]>();
        var failed = 0;
        await Task.WhenAll(Enumerable.Range(0, 512).Select(async i =>
        {
            long lba = i * 8L; // 4 KiB writes
            var data = Pattern(lba, 4096, 2);
            var r = await dev.WriteAsync(cap, lba, data);
            if (r.IsOk) acknowledged[lba] = data;
            else { Assert.Equal(ErrorCode.IoError, r.Code); Interlocked.Increment(ref failed); }
        }));
        Assert.True(failed > 0, "faults were injected, some writes must fail");
        Assert.True((await dev.FlushAsync(cap)).IsOk);
        await dev.DisposeAsync();
        await faulty.DisposeAsync();

        // A fresh device on the same image sees every acknowledged write.
        var storage = HostImageStorage.Open(path).Value;
        var (fresh, cap2) = NvmeBlockDevice.Start(storage, _caps).Value;
        foreach (var (lba, data) in acknowledged)
        {
            var buf = new byte[4096];
            Assert.True((await fresh.ReadAsync(cap2, lba, buf)).IsOk);
            Assert.Equal(data, buf);
        }
        await fresh.DisposeAsync();
        await storage.DisposeAsync();
    }

    [Fact]
    public async Task Read_faults_are_typed_and_the_device_keeps_working()
    {
        var faulty = new FaultInjectingStorage(HostImageStorage.Open(Image(1024 * 1024)).Value, 512);
        faulty.FailReads(10);
        var (dev, cap) = NvmeBlockDevice.Start(faulty, _caps).Value;
        Assert.Equal(ErrorCode.IoError, (await dev.ReadAsync(cap, 8, new byte[4096])).Code);
        Assert.True((await dev.ReadAsync(cap, 11, new byte[512])).IsOk);
        await dev.DisposeAsync();
        await faulty.DisposeAsync();
    }

    [Fact]
    public async Task Capabilities_gate_every_command()
    {
        var storage = HostImageStorage.Open(Image(1024 * 1024)).Value;
        var (dev, cap) = NvmeBlockDevice.Start(storage, _caps).Value;
        var ro = _caps.Derive(cap, Rights.Read, Principal.Kernel).Value;
        Assert.True((await dev.ReadAsync(ro, 0, new byte[512])).IsOk);
        Assert.Equal(ErrorCode.AccessDenied, (await dev.WriteAsync(ro, 0, new byte[512])).Code);
        Assert.Equal(ErrorCode.AccessDenied, (await dev.FlushAsync(ro)).Code);
        var view = dev.Open(ro);
        Assert.Equal(ErrorCode.AccessDenied, (await view.WriteAsync(0, new byte[512])).Code);
        _caps.Revoke(ro);
        Assert.Equal(ErrorCode.Revoked, (await view.ReadAsync(0, new byte[512])).Code);
        await dev.DisposeAsync();
        await storage.DisposeAsync();
    }

    [Fact]
    public async Task Bad_arguments_are_typed_errors()
    {
        var storage = HostImageStorage.Open(Image(1024 * 1024)).Value;
        var (dev, cap) = NvmeBlockDevice.Start(storage, _caps).Value;
        Assert.Equal(ErrorCode.OutOfRange, (await dev.ReadAsync(cap, dev.SectorCount, new byte[512])).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await dev.ReadAsync(cap, -1, new byte[512])).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await dev.WriteAsync(cap, dev.SectorCount - 1, new byte[1024])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await dev.ReadAsync(cap, 0, new byte[100])).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await dev.WriteAsync(cap, 0, ReadOnlyMemory<byte>.Empty)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, NvmeBlockDevice.Start(storage, _caps, new NvmeOptions(SectorSize: 1000)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, NvmeBlockDevice.Start(storage, _caps, new NvmeOptions(QueueDepth: 3)).Code);
        await dev.DisposeAsync();
        Assert.Equal(ErrorCode.Closed, (await dev.ReadAsync(cap, 0, new byte[512])).Code);
        await storage.DisposeAsync();
    }

    [Fact]
    public async Task Filesystems_mount_through_the_driver()
    {
        var path = Image(16L * 1024 * 1024);
        var mkfs = System.Diagnostics.Process.Start("mkfs.vfat", $"-F 16 {path}");
        await mkfs.WaitForExitAsync();
        Assert.Equal(0, mkfs.ExitCode);
        var storage = HostImageStorage.Open(path).Value;
        var (dev, cap) = NvmeBlockDevice.Start(storage, _caps).Value;
        var fs = (await new Photon.FileSystems.Fat.FatFileSystemDriver().MountAsync(dev.Open(cap), new Photon.Kernel.FileSystems.MountOptions())).Value;
        Assert.True((await fs.CreateFileAsync("/through-nvme.txt")).IsOk);
        Assert.True((await fs.WriteAsync("/through-nvme.txt", 0, new byte[70_000])).IsOk);
        await fs.DisposeAsync();
        await dev.DisposeAsync();
        await storage.DisposeAsync();
        var fsck = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("fsck.vfat", $"-n {path}") { RedirectStandardOutput = true })!;
        await fsck.WaitForExitAsync();
        Assert.Equal(0, fsck.ExitCode);
    }
}
