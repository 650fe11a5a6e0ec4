using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// Large reads and writes through an open file keep several block requests in flight on the NVMe-style driver (its
/// queue pairs run a fetched batch concurrently), instead of one request at a time.
/// </summary>
public sealed class ParallelIoTests
{
    /// <summary>Host storage that records how many requests were inside it at once. Each request yields once so
    /// that requests submitted together overlap even on a fast page cache.</summary>
    private sealed class ConcurrencyProbe(IBlockStorage inner) : IBlockStorage
    {
        private int _now;
        public int MaxReads, MaxWrites;
        public string Name => inner.Name;
        public long Length => inner.Length;
        public bool IsReadOnly => inner.IsReadOnly;

        public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
        {
            Enter(ref MaxReads);
            try { await Task.Delay(2, ct); return await inner.ReadAsync(offset, buffer, ct); }
            finally { Interlocked.Decrement(ref _now); }
        }

        public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
        {
            Enter(ref MaxWrites);
            try { await Task.Delay(2, ct); await inner.WriteAsync(offset, data, ct); }
            finally { Interlocked.Decrement(ref _now); }
        }

        public ValueTask FlushAsync(CancellationToken ct = default) => inner.FlushAsync(ct);
        public ValueTask DisposeAsync() => inner.DisposeAsync();

        private void Enter(ref int max)
        {
            int now = Interlocked.Increment(ref _now);
            int seen;
            while (now > (seen = Volatile.Read(ref max)) && Interlocked.CompareExchange(ref max, now, seen) != seen) { }
        }
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task A_4_MiB_read_and_write_through_one_node_keep_several_requests_in_flight(string type)
    {
        var payload = FatTestExtensions.RandomBytes(4 << 20, 21);
        using var fat = type == "vfat" ? FatImage.Create(16) : null;
        using var ext4 = type == "ext4" ? new Ext4Scratch() : null;
        string image;
        if (fat is not null) { fat.Put(payload, "/in.bin"); image = fat.Path; }
        else
        {
            image = ext4!.MakeImage();
            File.WriteAllBytes(ext4.PathOf("in.bin"), payload);
            Ext4Scratch.DebugfsWrite(image, ext4.PathOf("in.bin"), "in.bin");
        }

        await using var probe = new ConcurrencyProbe(HostImageStorage.Open(image).Value);
        IFileSystemDriver driver = fat is not null ? new FatFileSystemDriver() : new Ext4FileSystemDriver();
        var fs = (await driver.MountAsync(TestDevices.Nvme(probe), new MountOptions())).Value;
        var input = (await fs.OpenAsync("/in.bin")).Value;
        var buffer = new byte[payload.Length];
        Assert.Equal(payload.Length, (await input.ReadAsync(0, buffer)).Value);
        Assert.Equal(payload, buffer);
        Assert.True(probe.MaxReads > 1, $"reads in flight at once: {probe.MaxReads}");

        Assert.True((await fs.CreateFileAsync("/out.bin")).IsOk);
        var output = (await fs.OpenAsync("/out.bin")).Value;
        Assert.True((await output.WriteAsync(0, payload)).IsOk);
        Assert.True(probe.MaxWrites > 1, $"writes in flight at once: {probe.MaxWrites}");
        input.Release();
        output.Release();
        await fs.DisposeAsync();

        if (fat is not null) { fat.AssertFsckClean(); Assert.Equal(payload, fat.Get("/out.bin")); }
        else { Assert.Equal(0, Ext4Scratch.Fsck(image).Code); Assert.Equal(payload, ext4!.DebugfsDump(image, "/out.bin")); }
    }
}
