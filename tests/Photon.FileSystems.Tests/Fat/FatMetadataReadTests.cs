using System.Buffers.Binary;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>
/// How the FAT driver reads its table: a large write walks and allocates thousands of entries, and the sector cache
/// reads the FAT ahead in multi-sector requests on a miss (one request per sector made a 200 MiB copy issue
/// hundreds of device round trips). The result must stay exactly what mtools and fsck.vfat expect.
/// </summary>
public sealed class FatMetadataReadTests
{
    /// <summary>Counts the read requests that touch the FAT area.</summary>
    private sealed class FatReadCounter(IBlockDevice inner, long fatStart, long fatEnd) : IBlockDevice
    {
        public int FatReads;
        public string Name => inner.Name;
        public int SectorSize => inner.SectorSize;
        public long SectorCount => inner.SectorCount;
        public bool IsReadOnly => inner.IsReadOnly;

        public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (lba < fatEnd && lba + buffer.Length / SectorSize > fatStart) Interlocked.Increment(ref FatReads);
            return inner.ReadAsync(lba, buffer, cancellationToken);
        }

        public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
            inner.WriteAsync(lba, data, cancellationToken);

        public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);
    }

    [Fact]
    public async Task LargeWrite_ReadsTheFatInMultiSectorRequests_AndStaysFsckClean()
    {
        using var image = FatImage.Create(32); // 512-byte clusters: 5 MiB is 10,240 entries over 80 FAT sectors
        var boot = new byte[512];
        await using (var f = File.OpenRead(image.Path)) f.ReadExactly(boot);
        long reserved = BinaryPrimitives.ReadUInt16LittleEndian(boot.AsSpan(0x0E));
        long fatSectors = BinaryPrimitives.ReadUInt32LittleEndian(boot.AsSpan(0x24));
        Assert.Equal(512, BinaryPrimitives.ReadUInt16LittleEndian(boot.AsSpan(0x0B)));

        var data = FatTestExtensions.RandomBytes(5 * 1024 * 1024, 16);
        await using (var storage = HostImageStorage.Open(image.Path).Value)
        {
            var device = new FatReadCounter(TestDevices.Nvme(storage), reserved, reserved + fatSectors);
            var fs = (await new FatFileSystemDriver().MountAsync(device, new MountOptions())).AssertOk();
            int atMount = device.FatReads;
            (await fs.CreateFileAsync("/BIG.BIN")).AssertOk();
            (await fs.WriteAsync("/BIG.BIN", 0, data)).AssertOk();
            (await fs.FlushAsync()).AssertOk();
            int forWrite = device.FatReads - atMount;
            // 10,240 new entries span 80 FAT sectors: at most two read-ahead windows (and the mount's own), never one
            // request per sector.
            Assert.True(forWrite <= 4, $"{forWrite} FAT read requests for a 5 MiB write (80 FAT sectors)");
            await fs.DisposeAsync();
        }
        Assert.Equal(data, image.Get("/BIG.BIN"));
        image.AssertFsckClean();
    }
}
