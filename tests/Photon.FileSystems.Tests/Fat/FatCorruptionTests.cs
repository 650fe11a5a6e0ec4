using System.Buffers.Binary;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>
/// In-memory storage over a shared base image with a copy-on-write overlay, so hundreds of fuzz cases can each
/// corrupt "their own" multi-megabyte image cheaply. Wrapped in the kernel's real bounds-checked StorageBlockDevice.
/// </summary>
internal sealed class OverlayStorage(byte[] baseImage, long length) : IBlockStorage
{
    private const int Chunk = 512;
    private readonly Dictionary<long, byte[]> _overlay = new();

    public string Name => "overlay";
    public long Length { get; } = length;
    public bool IsReadOnly => false;

    private byte[] ChunkForWrite(long index)
    {
        if (_overlay.TryGetValue(index, out var chunk)) return chunk;
        chunk = new byte[Chunk];
        long start = index * Chunk;
        if (start < baseImage.Length) baseImage.AsSpan((int)start, (int)Math.Min(Chunk, baseImage.Length - start)).CopyTo(chunk);
        _overlay[index] = chunk;
        return chunk;
    }

    public byte this[long offset]
    {
        get => _overlay.TryGetValue(offset / Chunk, out var c) ? c[offset % Chunk] : offset < baseImage.Length ? baseImage[offset] : (byte)0;
        set => ChunkForWrite(offset / Chunk)[offset % Chunk] = value;
    }

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int count = (int)Math.Max(0, Math.Min(buffer.Length, Length - offset));
        var span = buffer.Span;
        for (int done = 0; done < count;)
        {
            long position = offset + done;
            int inChunk = (int)(position % Chunk);
            int take = Math.Min(Chunk - inChunk, count - done);
            if (_overlay.TryGetValue(position / Chunk, out var chunk)) chunk.AsSpan(inChunk, take).CopyTo(span[done..]);
            else if (position + take <= baseImage.Length) baseImage.AsSpan((int)position, take).CopyTo(span[done..]);
            else span.Slice(done, take).Clear();
            done += take;
        }
        return ValueTask.FromResult(count);
    }

    public ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (offset < 0 || offset + data.Length > Length) throw new KernelException(ErrorCode.IoError, "write beyond the image");
        for (int done = 0; done < data.Length;)
        {
            long position = offset + done;
            int inChunk = (int)(position % Chunk);
            int take = Math.Min(Chunk - inChunk, data.Length - done);
            data.Span.Slice(done, take).CopyTo(ChunkForWrite(position / Chunk).AsSpan(inChunk));
            done += take;
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>Byte-level helpers to corrupt specific FAT structures of an image.</summary>
internal static class FatSurgery
{
    public static FatGeometry Geometry(ReadOnlySpan<byte> image) => FatGeometry.Parse(image[..512], 512, image.Length).Value;

    /// <summary>Image offset of the 32-byte short entry named <paramref name="shortName"/> (11 bytes, space padded).</summary>
    public static int FindShortEntry(byte[] image, string shortName)
    {
        var g = Geometry(image);
        var needle = System.Text.Encoding.ASCII.GetBytes(shortName);
        for (long offset = g.FirstRootDirSector * 512; offset + 32 <= image.Length; offset += 32)
            if (image.AsSpan((int)offset, 11).SequenceEqual(needle)) return (int)offset;
        throw new InvalidOperationException($"no entry {shortName}");
    }

    public static uint FirstCluster(byte[] image, int entryOffset) =>
        (uint)(BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(entryOffset + 20)) << 16) | BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(entryOffset + 26));

    public static uint GetFat(byte[] image, uint cluster)
    {
        var g = Geometry(image);
        long fat = g.ReservedSectors * 512L;
        return g.Type switch
        {
            FatType.Fat12 => (uint)(((BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan((int)(fat + cluster + cluster / 2)))) >> ((cluster & 1) != 0 ? 4 : 0)) & 0xFFF),
            FatType.Fat16 => BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan((int)(fat + cluster * 2))),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan((int)(fat + cluster * 4))) & 0x0FFFFFFF,
        };
    }

    /// <summary>Sets a FAT entry in every FAT copy (so the corruption is consistent, as a buggy OS would leave it).</summary>
    public static void SetFat(byte[] image, uint cluster, uint value)
    {
        var g = Geometry(image);
        for (int copy = 0; copy < g.NumberOfFats; copy++)
        {
            long fat = (g.ReservedSectors + copy * g.FatSectors) * 512L;
            switch (g.Type)
            {
                case FatType.Fat12:
                {
                    int at = (int)(fat + cluster + cluster / 2);
                    ushort pair = BinaryPrimitives.ReadUInt16LittleEndian(image.AsSpan(at));
                    pair = (cluster & 1) != 0 ? (ushort)((pair & 0x000Fu) | (value << 4)) : (ushort)((pair & 0xF000u) | (value & 0xFFFu));
                    BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan(at), pair);
                    break;
                }
                case FatType.Fat16: BinaryPrimitives.WriteUInt16LittleEndian(image.AsSpan((int)(fat + cluster * 2)), (ushort)value); break;
                default: BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan((int)(fat + cluster * 4)), value); break;
            }
        }
    }
}

/// <summary>Specific corruptions: each must give a typed error (never an exception, hang or stray write).</summary>
public sealed class FatCorruptionTests
{
    private static readonly FatFileSystemDriver Driver = new();

    /// <summary>An image with a multi-cluster file LOOP.BIN, a second file KEEP.BIN and a subdirectory, made by mtools.</summary>
    private static (FatImage Image, byte[] Loop, byte[] Keep) MakeImage(int bits)
    {
        var image = FatImage.Create(bits);
        var loop = FatTestExtensions.RandomBytes(100_000, 11);
        var keep = FatTestExtensions.RandomBytes(60_000, 12);
        image.Put(loop, "/LOOP.BIN");
        image.Put(keep, "/KEEP.BIN");
        image.MakeDirectory("/SUBDIR");
        image.Put(keep, "/SUBDIR/INNER.BIN");
        return (image, loop, keep);
    }

    private static async Task<Result<IFileSystem>> MountBytesAsync(byte[] image) =>
        await Driver.MountAsync(TestDevices.Nvme(new OverlayStorage(image, image.Length)), new MountOptions());

    public static TheoryData<string, int, byte[]> BadBootValues => new()
    {
        { "bytes per sector zero", 11, [0, 0] },
        { "bytes per sector 513", 11, [1, 2] },
        { "sectors per cluster three", 13, [3] },
        { "sectors per cluster zero", 13, [0] },
        { "no reserved sectors", 14, [0, 0] },
        { "no FATs", 16, [0] },
        { "no root entries on FAT16", 17, [0, 0] },
        { "zero total sectors", 19, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
        { "bad media byte", 21, [0x12] },
        { "zero FAT size", 22, [0, 0] },
        { "FAT far too small", 22, [1, 0] },
        { "huge total sectors", 32, [0xFF, 0xFF, 0xFF, 0x7F] },
        { "no boot signature", 510, [0, 0] },
        { "no jump", 0, [0, 0, 0] },
    };

    [Theory]
    [MemberData(nameof(BadBootValues))]
    public async Task BadBootSectorFailsMountAndProbeWithoutWriting(string why, int offset, byte[] value)
    {
        using var image = FatImage.Create(16);
        var bytes = File.ReadAllBytes(image.Path);
        if (why == "huge total sectors") { bytes[19] = 0; bytes[20] = 0; }
        value.CopyTo(bytes, offset);
        File.WriteAllBytes(image.Path, bytes);

        await using (var storage = HostImageStorage.Open(image.Path).Value)
        {
            var device = TestDevices.Nvme(storage);
            Assert.False(await Driver.ProbeAsync(device), why);
            var mounted = await Driver.MountAsync(device, new MountOptions());
            Assert.True(mounted.Code is ErrorCode.Corrupted or ErrorCode.NotSupported, $"{why}: {mounted}");
        }
        Assert.Equal(bytes, File.ReadAllBytes(image.Path));
    }

    [Fact]
    public async Task BadFat32BootFieldsAndRootLoopsFailMount()
    {
        using var image = FatImage.Create(32);
        var good = File.ReadAllBytes(image.Path);
        var g = FatSurgery.Geometry(good);

        var rootZero = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(rootZero.AsSpan(44), 0);
        (await MountBytesAsync(rootZero)).AssertFails(ErrorCode.Corrupted);

        var rootHuge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(rootHuge.AsSpan(44), 0x0FFFFFF0);
        (await MountBytesAsync(rootHuge)).AssertFails(ErrorCode.Corrupted);

        var version = (byte[])good.Clone();
        version[42] = 1;
        (await MountBytesAsync(version)).AssertFails(ErrorCode.NotSupported);

        var rootLoop = (byte[])good.Clone();
        FatSurgery.SetFat(rootLoop, g.RootCluster, g.RootCluster);
        (await MountBytesAsync(rootLoop)).AssertFails(ErrorCode.Corrupted);

        var rootFree = (byte[])good.Clone();
        FatSurgery.SetFat(rootFree, g.RootCluster, 0);
        (await MountBytesAsync(rootFree)).AssertFails(ErrorCode.Corrupted);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(32)]
    public async Task TruncatedImagesFailMount(int bits)
    {
        using var image = FatImage.Create(bits);
        var bytes = File.ReadAllBytes(image.Path);
        foreach (int length in new[] { 0, 511, 512, 4096, bytes.Length / 2, bytes.Length - 512 })
        {
            var device = TestDevices.TryNvme(new OverlayStorage(bytes, length));
            if (length < 512) { device.AssertFails(ErrorCode.InvalidArgument); continue; } // no whole sector: no device
            var mounted = await Driver.MountAsync(device.Value, new MountOptions());
            mounted.AssertFails(ErrorCode.Corrupted);
        }
    }

    [Theory]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(32)]
    public async Task LoopingChainIsCorruptedAndFailedChangesWriteNothing(int bits)
    {
        var (image, _, keep) = MakeImage(bits);
        using var _ = image;
        var bytes = File.ReadAllBytes(image.Path);
        uint first = FatSurgery.FirstCluster(bytes, FatSurgery.FindShortEntry(bytes, "LOOP    BIN"));
        uint second = FatSurgery.GetFat(bytes, first);
        FatSurgery.SetFat(bytes, second, first); // second links back to first: a cycle
        File.WriteAllBytes(image.Path, bytes);

        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            Assert.Equal(100_000, (await fs.StatAsync("/LOOP.BIN")).AssertOk().Length);
            (await fs.ReadAsync("/LOOP.BIN", 0, new byte[200_000])).AssertFails(ErrorCode.Corrupted);
            (await fs.WriteAsync("/LOOP.BIN", 100_000, new byte[5000])).AssertFails(ErrorCode.Corrupted);
            (await fs.WriteAsync("/LOOP.BIN", 0, new byte[10])).AssertFails(ErrorCode.Corrupted);
            (await fs.TruncateAsync("/LOOP.BIN", 10)).AssertFails(ErrorCode.Corrupted);
            (await fs.DeleteAsync("/LOOP.BIN")).AssertFails(ErrorCode.Corrupted);
            (await fs.RenameAsync("/LOOP.BIN", "/SUBDIR/loop moved.bin")).AssertOk();
            (await fs.RenameAsync("/SUBDIR/loop moved.bin", "/LOOP.BIN")).AssertOk();
            Assert.Equal(keep, await fs.ReadAllAsync("/KEEP.BIN"));
            Assert.Equal(keep, await fs.ReadAllAsync("/SUBDIR/INNER.BIN"));
        }
        // The failed operations were rolled back; the two renames cancel out except for deleted-slot markers.
        var after = File.ReadAllBytes(image.Path);
        var g = FatSurgery.Geometry(after);
        long fatBytes = g.FatSectors * 512L * g.NumberOfFats;
        long fatStart = g.ReservedSectors * 512L;
        Assert.True(bytes.AsSpan((int)fatStart, (int)fatBytes).SequenceEqual(after.AsSpan((int)fatStart, (int)fatBytes)), "FAT changed");
        Assert.Equal(keep, image.Get("/KEEP.BIN"));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    public async Task CrossLinkedChainsNeverDestroyTheOtherFile(int bits)
    {
        var (image, loop, keep) = MakeImage(bits);
        using var _ = image;
        var bytes = File.ReadAllBytes(image.Path);
        uint loopFirst = FatSurgery.FirstCluster(bytes, FatSurgery.FindShortEntry(bytes, "LOOP    BIN"));
        uint keepFirst = FatSurgery.FirstCluster(bytes, FatSurgery.FindShortEntry(bytes, "KEEP    BIN"));
        uint last = loopFirst;
        for (int i = 0; i < 100_000 && FatSurgery.GetFat(bytes, last) < 0xFF8; i++) last = FatSurgery.GetFat(bytes, last);
        FatSurgery.SetFat(bytes, last, keepFirst); // LOOP.BIN's chain runs on into KEEP.BIN's clusters
        File.WriteAllBytes(image.Path, bytes);

        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            Assert.Equal(loop, await fs.ReadAllAsync("/LOOP.BIN")); // reads stop at the recorded size
            (await fs.TruncateAsync("/LOOP.BIN", 0)).AssertFails(ErrorCode.Corrupted);
            (await fs.DeleteAsync("/LOOP.BIN")).AssertFails(ErrorCode.Corrupted);
            (await fs.WriteAsync("/LOOP.BIN", 100_000, new byte[70_000])).AssertFails(ErrorCode.Corrupted);
            Assert.Equal(keep, await fs.ReadAllAsync("/KEEP.BIN"));
        }
        Assert.Equal(keep, image.Get("/KEEP.BIN"));
    }

    [Theory]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(32)]
    public async Task BadLinksAndOversizedEntriesAreCorrupted(int bits)
    {
        var (image, _, keep) = MakeImage(bits);
        using var _ = image;
        var good = File.ReadAllBytes(image.Path);
        var g = FatSurgery.Geometry(good);
        int loopEntry = FatSurgery.FindShortEntry(good, "LOOP    BIN");
        int subEntry = FatSurgery.FindShortEntry(good, "SUBDIR     ");
        uint first = FatSurgery.FirstCluster(good, loopEntry);

        async Task Check(byte[] image, Func<IFileSystem, Task> body)
        {
            var fs = (await MountBytesAsync(image)).AssertOk();
            await body(fs);
            Assert.Equal(keep, await fs.ReadAllAsync("/KEEP.BIN"));
            await fs.DisposeAsync();
        }

        var beyond = (byte[])good.Clone();
        FatSurgery.SetFat(beyond, first, g.MaxCluster + 1);
        await Check(beyond, async fs => (await fs.ReadAsync("/LOOP.BIN", 0, new byte[100_000])).AssertFails(ErrorCode.Corrupted));

        var freeLink = (byte[])good.Clone();
        FatSurgery.SetFat(freeLink, first, 0);
        await Check(freeLink, async fs => (await fs.ReadAsync("/LOOP.BIN", 0, new byte[100_000])).AssertFails(ErrorCode.Corrupted));

        var startBeyond = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(startBeyond.AsSpan(loopEntry + 26), 0xFFF0);
        BinaryPrimitives.WriteUInt16LittleEndian(startBeyond.AsSpan(loopEntry + 20), bits == 32 ? (ushort)0x0FFF : (ushort)0);
        await Check(startBeyond, async fs =>
        {
            (await fs.ReadAsync("/LOOP.BIN", 0, new byte[10])).AssertFails(ErrorCode.Corrupted);
            (await fs.DeleteAsync("/LOOP.BIN")).AssertFails(ErrorCode.Corrupted);
        });

        var oversized = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(oversized.AsSpan(loopEntry + 28), 0xFFFFFFF0);
        await Check(oversized, async fs =>
        {
            Assert.Equal(0xFFFFFFF0L, (await fs.StatAsync("/LOOP.BIN")).AssertOk().Length);
            (await fs.ReadAsync("/LOOP.BIN", 0, new byte[10])).AssertFails(ErrorCode.Corrupted);
            (await fs.WriteAsync("/LOOP.BIN", 0, new byte[10])).AssertFails(ErrorCode.Corrupted);
        });

        var dirAtZero = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt16LittleEndian(dirAtZero.AsSpan(subEntry + 26), 0);
        BinaryPrimitives.WriteUInt16LittleEndian(dirAtZero.AsSpan(subEntry + 20), 0);
        await Check(dirAtZero, async fs =>
        {
            (await fs.ReadDirectoryAsync("/SUBDIR")).AssertFails(ErrorCode.Corrupted);
            (await fs.CreateFileAsync("/SUBDIR/new")).AssertFails(ErrorCode.Corrupted);
        });

        var dirLoop = (byte[])good.Clone();
        uint subCluster = FatSurgery.FirstCluster(good, subEntry);
        FatSurgery.SetFat(dirLoop, subCluster, subCluster);
        await Check(dirLoop, async fs => (await fs.ReadDirectoryAsync("/SUBDIR")).AssertFails(ErrorCode.Corrupted));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    public async Task FlushedFileSurvivesALaterFailedMount(int bits)
    {
        using var image = FatImage.Create(bits);
        var data = FatTestExtensions.RandomBytes(150_000, 13);
        await using (var mounted = await image.MountAsync())
        {
            (await mounted.Fs.CreateFileAsync("/Precious data.bin")).AssertOk();
            (await mounted.Fs.WriteAsync("/Precious data.bin", 0, data)).AssertOk();
            (await mounted.Fs.FlushAsync()).AssertOk();
        }
        var flushed = File.ReadAllBytes(image.Path);

        // Corrupt something unrelated so the next mount fails: sectors per cluster not a power of two.
        var broken = (byte[])flushed.Clone();
        broken[13] = 6;
        File.WriteAllBytes(image.Path, broken);
        await using (var storage = HostImageStorage.Open(image.Path).Value)
            (await Driver.MountAsync(TestDevices.Nvme(storage), new MountOptions())).AssertFails(ErrorCode.Corrupted);
        Assert.Equal(broken, File.ReadAllBytes(image.Path)); // the failed mount wrote nothing

        // Repair the boot sector: the file is intact for Photon, mtools and fsck.
        File.WriteAllBytes(image.Path, flushed);
        Assert.Equal(data, image.Get("/Precious data.bin"));
        image.AssertFsckClean();
        await using var again = await image.MountAsync();
        Assert.Equal(data, await again.Fs.ReadAllAsync("/Precious data.bin"));
    }
}
