using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>Photon against the real dosfstools/mtools: images they make mount, and what Photon writes they accept.</summary>
public sealed class FatInteropTests
{
    public static TheoryData<int> FatWidths => new() { 12, 16, 32 };

    [Theory]
    [MemberData(nameof(FatWidths))]
    public async Task MkfsImageMountsWithTheRightFatType(int bits)
    {
        using var image = FatImage.Create(bits);
        await using var mounted = await image.MountAsync();
        var fs = Assert.IsType<FatFileSystem>(mounted.Fs);
        Assert.Equal(bits switch { 12 => FatType.Fat12, 16 => FatType.Fat16, _ => FatType.Fat32 }, fs.FatType);
        Assert.Equal("vfat", fs.TypeName);
        Assert.Empty((await fs.ReadDirectoryAsync("/")).AssertOk());
        Assert.True(await new FatFileSystemDriver().ProbeAsync(TestDevices.Nvme(
            Photon.Kernel.Hal.Host.HostImageStorage.Open(image.Path, readOnly: true).Value)));
    }

    [Theory]
    [MemberData(nameof(FatWidths))]
    public async Task FilesPutWithMtoolsReadBackIdentically(int bits)
    {
        using var image = FatImage.Create(bits);
        var small = "hello, fat\n"u8.ToArray();
        var multi = FatTestExtensions.RandomBytes(70_000, 1);
        var large = FatTestExtensions.RandomBytes(5 * 1024 * 1024 + 123, 2);
        var longName = "A rather long file name with spaces.and.dots.txt";
        var unicodeName = "Grüße – 日本語.bin";
        image.Put(small, "/HELLO.TXT");
        image.Put(multi, "/" + longName);
        image.MakeDirectory("/Sub Directory");
        image.MakeDirectory("/Sub Directory/deeper");
        image.Put(large, "/Sub Directory/deeper/large.bin");
        image.Put(small, "/Sub Directory/" + unicodeName);
        image.Put([], "/empty");

        await using var mounted = await image.MountAsync(readOnly: true);
        var fs = mounted.Fs;
        Assert.Equal(small, await fs.ReadAllAsync("/HELLO.TXT"));
        Assert.Equal(small, await fs.ReadAllAsync("/hello.txt")); // FAT names are case-insensitive
        Assert.Equal(multi, await fs.ReadAllAsync("/" + longName));
        Assert.Equal(large, await fs.ReadAllAsync("/Sub Directory/deeper/large.bin"));
        Assert.Equal(small, await fs.ReadAllAsync("/Sub Directory/" + unicodeName));
        Assert.Empty(await fs.ReadAllAsync("/empty"));

        var root = (await fs.ReadDirectoryAsync("/")).AssertOk();
        Assert.Equal(new[] { "HELLO.TXT", "Sub Directory", "empty", longName }.Order(StringComparer.Ordinal),
            root.Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(FileKind.Directory, root.Single(e => e.Name == "Sub Directory").Kind);
        Assert.Equal(multi.Length, root.Single(e => e.Name == longName).Length);
        var sub = (await fs.ReadDirectoryAsync("/Sub Directory")).AssertOk();
        Assert.Equal(new[] { "deeper", unicodeName }.Order(StringComparer.Ordinal), sub.Select(e => e.Name).Order(StringComparer.Ordinal));

        // A read in the middle, crossing cluster boundaries.
        var part = new byte[100_000];
        Assert.Equal(part.Length, (await fs.ReadAsync("/Sub Directory/deeper/large.bin", 3_000_001, part)).AssertOk());
        Assert.Equal(large.AsSpan(3_000_001, part.Length).ToArray(), part);
        Assert.Equal(0, (await fs.ReadAsync("/HELLO.TXT", 1000, part)).AssertOk());

        var stat = (await fs.StatAsync("/Sub Directory/deeper/large.bin")).AssertOk();
        Assert.Equal(FileKind.File, stat.Kind);
        Assert.Equal(large.Length, stat.Length);
        Assert.True(Math.Abs((stat.Modified - DateTimeOffset.UtcNow).TotalDays) < 2, $"mtime {stat.Modified}");
        (await fs.WriteAsync("/HELLO.TXT", 0, small)).AssertFails(ErrorCode.ReadOnly);
    }

    [Theory]
    [MemberData(nameof(FatWidths))]
    public async Task PhotonWritesAreReadByMtoolsAndPassFsck(int bits)
    {
        using var image = FatImage.Create(bits);
        var small = "tiny"u8.ToArray();
        var multi = FatTestExtensions.RandomBytes(3 * 16384 + 17, 3);
        var large = FatTestExtensions.RandomBytes(5 * 1024 * 1024 + 7, 4);
        var longName = "Photon wrote this long name.data";
        var unicodeName = "Überprüfung ✓.txt";
        var deepName = new string('n', 200) + ".x";

        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            (await fs.CreateFileAsync("/SMALL.TXT")).AssertOk();
            (await fs.WriteAsync("/SMALL.TXT", 0, small)).AssertOk();
            (await fs.CreateFileAsync("/" + longName)).AssertOk();
            (await fs.WriteAsync("/" + longName, 0, multi)).AssertOk();
            (await fs.CreateDirectoryAsync("/dir one")).AssertOk();
            (await fs.CreateDirectoryAsync("/dir one/dir two")).AssertOk();
            (await fs.CreateFileAsync("/dir one/dir two/large.bin")).AssertOk();
            // Written in uneven chunks so writes straddle sectors and clusters.
            for (int offset = 0; offset < large.Length; offset += 777_777)
                (await fs.WriteAsync("/dir one/dir two/large.bin", offset, large.AsMemory(offset, Math.Min(777_777, large.Length - offset)))).AssertOk();
            (await fs.CreateFileAsync("/dir one/" + unicodeName)).AssertOk();
            (await fs.WriteAsync("/dir one/" + unicodeName, 0, small)).AssertOk();
            (await fs.CreateFileAsync("/dir one/" + deepName)).AssertOk();
            (await fs.WriteAsync("/dir one/" + deepName, 0, multi)).AssertOk();

            // Rename within a directory, across directories, and a directory move; then deletes.
            (await fs.CreateFileAsync("/rename me.txt")).AssertOk();
            (await fs.WriteAsync("/rename me.txt", 0, small)).AssertOk();
            (await fs.RenameAsync("/rename me.txt", "/renamed.txt")).AssertOk();
            (await fs.RenameAsync("/renamed.txt", "/dir one/dir two/moved here.txt")).AssertOk();
            (await fs.CreateDirectoryAsync("/movable")).AssertOk();
            (await fs.CreateFileAsync("/movable/inner.txt")).AssertOk();
            (await fs.WriteAsync("/movable/inner.txt", 0, multi)).AssertOk();
            (await fs.RenameAsync("/movable", "/dir one/Moved Dir")).AssertOk();
            (await fs.CreateFileAsync("/doomed.bin")).AssertOk();
            (await fs.WriteAsync("/doomed.bin", 0, multi)).AssertOk();
            (await fs.DeleteAsync("/doomed.bin")).AssertOk();
            (await fs.CreateDirectoryAsync("/doomed dir")).AssertOk();
            (await fs.DeleteAsync("/doomed dir")).AssertOk();
            (await fs.FlushAsync()).AssertOk();
        }

        Assert.Equal(small, image.Get("/SMALL.TXT"));
        Assert.Equal(multi, image.Get("/" + longName));
        Assert.Equal(large, image.Get("/dir one/dir two/large.bin"));
        Assert.Equal(small, image.Get("/dir one/" + unicodeName));
        Assert.Equal(multi, image.Get("/dir one/" + deepName));
        Assert.Equal(small, image.Get("/dir one/dir two/moved here.txt"));
        Assert.Equal(multi, image.Get("/dir one/Moved Dir/inner.txt"));
        Assert.Equal(new[] { "SMALL.TXT", "dir one", longName }.Order(StringComparer.Ordinal),
            image.List("/").Order(StringComparer.Ordinal));
        Assert.Equal(new[] { "Moved Dir", "dir two", deepName, unicodeName }.Order(StringComparer.Ordinal),
            image.List("/dir one").Order(StringComparer.Ordinal));
        image.AssertFsckClean();

        // And Photon reads its own work back after a fresh mount.
        await using var again = await image.MountAsync();
        Assert.Equal(large, await again.Fs.ReadAllAsync("/dir one/dir two/large.bin"));
        Assert.Equal(multi, await again.Fs.ReadAllAsync("/dir one/Moved Dir/inner.txt"));
        (await again.Fs.StatAsync("/doomed.bin")).AssertFails(ErrorCode.NotFound);
    }

    [Theory]
    [MemberData(nameof(FatWidths))]
    public async Task OverwriteSparseWriteAndTruncateKeepTheImageConsistent(int bits)
    {
        using var image = FatImage.Create(bits);
        var expected = new List<byte>();
        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            (await fs.CreateFileAsync("/grow.bin")).AssertOk();
            var first = FatTestExtensions.RandomBytes(50_000, 5);
            (await fs.WriteAsync("/grow.bin", 0, first)).AssertOk();
            // Writing past the end leaves a zero-filled gap.
            var tail = FatTestExtensions.RandomBytes(1000, 6);
            (await fs.WriteAsync("/grow.bin", 90_000, tail)).AssertOk();
            // Overwrite inside.
            var patch = FatTestExtensions.RandomBytes(3000, 7);
            (await fs.WriteAsync("/grow.bin", 49_000, patch)).AssertOk();
            expected.AddRange(first);
            expected.AddRange(new byte[90_000 - first.Length]);
            expected.AddRange(tail);
            for (int i = 0; i < patch.Length; i++) expected[49_000 + i] = patch[i];
            Assert.Equal(expected.ToArray(), await fs.ReadAllAsync("/grow.bin"));

            // Shrink, then grow by truncation: the regrown part must read as zeros, not stale data.
            (await fs.TruncateAsync("/grow.bin", 10_001)).AssertOk();
            (await fs.TruncateAsync("/grow.bin", 40_000)).AssertOk();
            expected.RemoveRange(10_001, expected.Count - 10_001);
            expected.AddRange(new byte[40_000 - 10_001]);
            Assert.Equal(expected.ToArray(), await fs.ReadAllAsync("/grow.bin"));

            (await fs.CreateFileAsync("/gone.bin")).AssertOk();
            (await fs.WriteAsync("/gone.bin", 0, first)).AssertOk();
            (await fs.TruncateAsync("/gone.bin", 0)).AssertOk();
            Assert.Equal(0, (await fs.StatAsync("/gone.bin")).AssertOk().Length);
        }
        Assert.Equal(expected.ToArray(), image.Get("/grow.bin"));
        Assert.Empty(image.Get("/gone.bin"));
        image.AssertFsckClean();
    }

    [Theory]
    [MemberData(nameof(FatWidths))]
    public async Task ManyFilesGrowDirectoriesAndGetUniqueShortNames(int bits)
    {
        using var image = FatImage.Create(bits);
        const int count = 120;
        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            (await fs.CreateDirectoryAsync("/many")).AssertOk();
            for (int i = 0; i < count; i++)
            {
                // Same first six characters: aliases must become LONGFI~1 .. ~9, then LONGF~10 and so on.
                var path = $"/many/Long file number {i:D3}.text";
                (await fs.CreateFileAsync(path)).AssertOk();
                (await fs.WriteAsync(path, 0, BitConverter.GetBytes(i))).AssertOk();
            }
            for (int i = 0; i < count; i += 3) (await fs.DeleteAsync($"/many/Long file number {i:D3}.text")).AssertOk();
            var listing = (await fs.ReadDirectoryAsync("/many")).AssertOk();
            Assert.Equal(count - (count + 2) / 3, listing.Count);
        }
        var names = image.List("/many");
        Assert.Equal(count - (count + 2) / 3, names.Count);
        Assert.Equal(BitConverter.GetBytes(119), image.Get("/many/Long file number 119.text"));
        image.AssertFsckClean();
    }

    [Fact]
    public async Task FlushedFileSurvivesAndFsInfoStaysAccurate()
    {
        using var image = FatImage.Create(32);
        var data = FatTestExtensions.RandomBytes(200_000, 8);
        var mounted = await image.MountAsync();
        (await mounted.Fs.CreateFileAsync("/kept.bin")).AssertOk();
        (await mounted.Fs.WriteAsync("/kept.bin", 0, data)).AssertOk();
        (await mounted.Fs.FlushAsync()).AssertOk();
        // Flush alone (no unmount) must already leave a consistent, complete image.
        Assert.Equal(data, image.Get("/kept.bin"));
        image.AssertFsckClean();
        await mounted.DisposeAsync();
    }

    [Fact]
    public async Task ConcurrentCallersAreSerialisedSafely()
    {
        using var image = FatImage.Create(16);
        var contents = Enumerable.Range(0, 8).Select(i => FatTestExtensions.RandomBytes(20_000 + i * 7_000, 100 + i)).ToArray();
        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            (await fs.CreateDirectoryAsync("/shared")).AssertOk();
            await Task.WhenAll(contents.Select((data, i) => Task.Run(async () =>
            {
                string path = $"/shared/concurrent writer {i}.bin";
                (await fs.CreateFileAsync(path)).AssertOk();
                for (int offset = 0; offset < data.Length; offset += 4096)
                    (await fs.WriteAsync(path, offset, data.AsMemory(offset, Math.Min(4096, data.Length - offset)))).AssertOk();
            })));
        }
        for (int i = 0; i < contents.Length; i++) Assert.Equal(contents[i], image.Get($"/shared/concurrent writer {i}.bin"));
        image.AssertFsckClean();
    }
}
