using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;
using Photon.Kernel.Tests.Drivers.Nvme;

namespace Photon.FileSystems.Tests.Nvme;

/// <summary>Issue #17, zero-copy into the filesystems: ext4 and FAT, mounted on the NVMe driver over the in-process
/// device model, read partial blocks (a file's tail, a read at an odd offset) out of the DMA buffer the device wrote
/// (<see cref="IBlockLending"/>, a capability-checked <c>DmaLoan</c>) — one copy into the caller's buffer instead of
/// two — and give every buffer back; a revoked loan or a removed device is a typed error, not a crash or a hang.</summary>
public sealed class FileSystemsOnNvmeLoanTests : IDisposable
{
    private static readonly HostTimers Timers = new(new HostClock());
    private readonly CapabilityManager _caps = new();
    private readonly Ext4Scratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    private async Task<(NvmeDisk Disk, CapabilityToken Cap, IBlockDevice Device)> DiskWithImageAsync(string image)
    {
        var bytes = File.ReadAllBytes(image);
        var model = new NvmeDeviceModel(blocks: bytes.Length / 512);
        bytes.CopyTo(model.Disk, 0);
        var c = await NvmeController.StartAsync(model, Timers, new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8));
        Assert.True(c.IsOk, c.ToString());
        var (disk, cap) = NvmeDisk.Create("nvme0", c.Value, _caps).Value;
        return (disk, cap, disk.Open(cap));
    }

    private static async Task<byte[]> ReadAtAsync(IFileSystem fs, string path, long offset, int length)
    {
        var buffer = new byte[length];
        var n = await fs.ReadAsync(path, offset, buffer);
        Assert.True(n.IsOk, n.ToString());
        Assert.Equal(length, n.Value);
        return buffer;
    }

    private string Ext4Image(params (string Name, byte[] Content)[] files)
    {
        var dir = _scratch.PathOf("root");
        Directory.CreateDirectory(dir);
        foreach (var (name, content) in files) File.WriteAllBytes(Path.Combine(dir, name), content);
        return _scratch.MakeImage("fs.img", "8M", dir);
    }

    [Fact]
    public async Task Ext4_partial_block_reads_come_out_of_the_lent_dma_buffer_and_every_buffer_goes_back()
    {
        var data = Ext4Scratch.RandomBytes(10_000, 1); // 2 whole 4 KiB blocks and a partial third
        var (disk, _, device) = await DiskWithImageAsync(Ext4Image(("tail.bin", data)));
        await using var __ = disk;
        var fs = (await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(ReadOnly: true))).Value;
        await using var ___ = fs;
        long before = disk.KernelLoans;
        Assert.Equal(data.AsSpan(4096 + 100, 3000).ToArray(), await ReadAtAsync(fs, "/tail.bin", 4096 + 100, 3000));
        Assert.Equal(data.AsSpan(8192).ToArray(), await ReadAtAsync(fs, "/tail.bin", 8192, data.Length - 8192));
        Assert.Equal(data, await ReadAtAsync(fs, "/tail.bin", 0, data.Length));
        // The odd-offset read and the tail went through loans (the whole-file read's tail too); none is left out.
        Assert.True(disk.KernelLoans - before >= 3, $"{disk.KernelLoans - before} lent reads");
        Assert.Equal(0, disk.OutstandingLoans);
        Assert.Equal(0, disk.Controller.LentBuffers);
    }

    [Fact]
    public async Task Fat_partial_sector_reads_come_out_of_the_lent_dma_buffer()
    {
        using var image = FatImage.Create(16);
        var data = Ext4Scratch.RandomBytes(5000, 2);
        image.Put(data, "/odd.bin");
        var (disk, _, device) = await DiskWithImageAsync(image.Path);
        await using var __ = disk;
        var fs = (await new FatFileSystemDriver().MountAsync(device, new MountOptions(ReadOnly: true))).Value;
        await using var ___ = fs;
        long before = disk.KernelLoans;
        Assert.Equal(data.AsSpan(777, 1234).ToArray(), await ReadAtAsync(fs, "/ODD.BIN", 777, 1234));
        Assert.Equal(data, await ReadAtAsync(fs, "/ODD.BIN", 0, data.Length));
        Assert.True(disk.KernelLoans - before >= 2, $"{disk.KernelLoans - before} lent reads");
        Assert.Equal(0, disk.OutstandingLoans);
        Assert.Equal(0, disk.Controller.LentBuffers);
    }

    [Fact]
    public async Task A_loan_revoked_before_the_filesystem_copies_is_a_typed_Revoked_and_the_buffer_goes_back()
    {
        var data = Ext4Scratch.RandomBytes(6000, 3);
        var (disk, _, device) = await DiskWithImageAsync(Ext4Image(("f.bin", data)));
        await using var __ = disk;
        var revoking = new RevokingLender(device);
        var fs = (await new Ext4FileSystemDriver().MountAsync(revoking, new MountOptions(ReadOnly: true))).Value;
        await using var ___ = fs;
        revoking.Revoke = true;
        var r = await fs.ReadAsync("/f.bin", 100, new byte[200]);
        Assert.Equal(ErrorCode.Revoked, r.Code);
        Assert.Equal(0, disk.OutstandingLoans);
        Assert.Equal(0, disk.Controller.LentBuffers);
        revoking.Revoke = false;
        Assert.Equal(data.AsSpan(100, 200).ToArray(), await ReadAtAsync(fs, "/f.bin", 100, 200));
    }

    [Fact]
    public async Task A_device_removed_under_a_mounted_filesystem_gives_typed_errors_and_no_hang()
    {
        var data = Ext4Scratch.RandomBytes(6000, 4);
        var (disk, cap, device) = await DiskWithImageAsync(Ext4Image(("f.bin", data)));
        var fs = (await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(ReadOnly: true))).Value;
        await using var ___ = fs;
        Assert.Equal(data.AsSpan(10, 100).ToArray(), await ReadAtAsync(fs, "/f.bin", 10, 100));
        // A loan held across the removal: revoking the disk's capability revokes it and stops the controller.
        var held = await ((IBlockLending)device).LendReadAsync(0, 4096);
        Assert.True(held.IsOk, held.ToString());
        Assert.Equal(1, disk.OutstandingLoans);
        _caps.Revoke(cap);
        await disk.DisposeAsync();
        Assert.Equal(ErrorCode.Revoked, held.Value.CopyTo(0, new byte[16]).Code);
        held.Value.Dispose();
        Assert.Equal(0, disk.OutstandingLoans);
        var r = await fs.ReadAsync("/f.bin", 10, new byte[100]).AsTask().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.False(r.IsOk);
        Assert.Contains(r.Code, new[] { ErrorCode.Revoked, ErrorCode.StaleCapability, ErrorCode.Closed });
    }

    /// <summary>A lending device whose loans are revoked by the lender before the filesystem gets to copy.</summary>
    private sealed class RevokingLender(IBlockDevice inner) : IBlockDevice, IBlockLending
    {
        public bool Revoke { get; set; }
        public string Name => inner.Name;
        public int SectorSize => inner.SectorSize;
        public long SectorCount => inner.SectorCount;
        public bool IsReadOnly => inner.IsReadOnly;
        public int MaxLentBytes => ((IBlockLending)inner).MaxLentBytes;
        public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(lba, buffer, ct);
        public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken ct = default) => inner.WriteAsync(lba, data, ct);
        public ValueTask<Result> FlushAsync(CancellationToken ct = default) => inner.FlushAsync(ct);

        public async ValueTask<Result<BlockLoan>> LendReadAsync(long lba, int bytes, CancellationToken ct = default)
        {
            var loan = await ((IBlockLending)inner).LendReadAsync(lba, bytes, ct);
            if (Revoke && loan.IsOk) loan.Value.Dispose();
            return loan;
        }
    }
}
