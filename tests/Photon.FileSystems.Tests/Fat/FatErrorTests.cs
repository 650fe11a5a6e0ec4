using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>Invalid requests get typed errors; names, aliases and timestamps follow the FAT/VFAT rules.</summary>
public sealed class FatErrorTests
{
    private sealed class FixedClock(DateTimeOffset now) : IClock
    {
        public TimeSpan Monotonic => TimeSpan.Zero;
        public DateTimeOffset WallClock => now;
    }

    [Fact]
    public async Task InvalidNamesAndPathsAreTypedErrors()
    {
        using var image = FatImage.Create(16);
        await using var mounted = await image.MountAsync();
        var fs = mounted.Fs;
        foreach (var bad in new[] { "/a*b", "/a?b", "/a:b", "/a<b", "/a>b", "/a|b", "/a\"b", "/a\\b", "/tab\there", "/trailing.", "/trailing " })
            (await fs.CreateFileAsync(bad)).AssertFails(ErrorCode.InvalidName);
        (await fs.CreateFileAsync("/" + new string('x', 256))).AssertFails(ErrorCode.InvalidName);
        (await fs.CreateDirectoryAsync("/" + new string('y', 300))).AssertFails(ErrorCode.InvalidName);
        (await fs.StatAsync("/.." )).AssertFails(ErrorCode.InvalidName);
        (await fs.CreateFileAsync("relative.txt")).AssertFails(ErrorCode.InvalidArgument);
        (await fs.CreateFileAsync("")).AssertFails(ErrorCode.InvalidArgument);

        // Exactly 255 UTF-16 units is the VFAT maximum and must work end to end.
        var longest = "/" + new string('z', 251) + ".txt";
        (await fs.CreateFileAsync(longest)).AssertOk();
        (await fs.WriteAsync(longest, 0, "max"u8.ToArray())).AssertOk();
        Assert.Equal("max"u8.ToArray(), await fs.ReadAllAsync(longest));

        (await fs.CreateFileAsync("/exists.txt")).AssertOk();
        (await fs.CreateFileAsync("/exists.txt")).AssertFails(ErrorCode.AlreadyExists);
        (await fs.CreateFileAsync("/EXISTS.TXT")).AssertFails(ErrorCode.AlreadyExists);
        (await fs.CreateDirectoryAsync("/Exists.Txt")).AssertFails(ErrorCode.AlreadyExists);
        (await fs.CreateDirectoryAsync("/")).AssertFails(ErrorCode.AlreadyExists);

        (await fs.CreateDirectoryAsync("/full")).AssertOk();
        (await fs.CreateFileAsync("/full/child")).AssertOk();
        (await fs.DeleteAsync("/full")).AssertFails(ErrorCode.NotEmpty);
        (await fs.DeleteAsync("/")).AssertFails(ErrorCode.InvalidArgument);
        (await fs.DeleteAsync("/missing")).AssertFails(ErrorCode.NotFound);
        (await fs.RenameAsync("/exists.txt", "/full/child/x")).AssertFails(ErrorCode.NotADirectory);
        (await fs.CreateDirectoryAsync("/full/sub")).AssertOk();
        (await fs.RenameAsync("/full", "/full/sub/inside")).AssertFails(ErrorCode.InvalidArgument);
        (await fs.RenameAsync("/exists.txt", "/full/child")).AssertFails(ErrorCode.AlreadyExists);
        (await fs.RenameAsync("/missing", "/x")).AssertFails(ErrorCode.NotFound);

        (await fs.ReadAsync("/full", 0, new byte[10])).AssertFails(ErrorCode.IsADirectory);
        (await fs.WriteAsync("/full", 0, new byte[10])).AssertFails(ErrorCode.IsADirectory);
        (await fs.ReadDirectoryAsync("/exists.txt")).AssertFails(ErrorCode.NotADirectory);
        (await fs.StatAsync("/exists.txt/below")).AssertFails(ErrorCode.NotADirectory);
        (await fs.ReadAsync("/exists.txt", -1, new byte[10])).AssertFails(ErrorCode.InvalidArgument);
        (await fs.WriteAsync("/exists.txt", uint.MaxValue, new byte[10])).AssertFails(ErrorCode.OutOfRange);
        (await fs.TruncateAsync("/exists.txt", -5)).AssertFails(ErrorCode.InvalidArgument);

        // A case-only rename keeps the file and changes its name.
        (await fs.RenameAsync("/exists.txt", "/Exists.TXT")).AssertOk();
        Assert.Contains((await fs.ReadDirectoryAsync("/")).AssertOk(), e => e.Name == "Exists.TXT");
        (await fs.FlushAsync()).AssertOk();
        image.AssertFsckClean();
    }

    [Fact]
    public async Task ShortNameAliasesFollowTheVfatScheme()
    {
        var taken = new HashSet<string>();
        string Alias(string name)
        {
            var alias = FatNames.GenerateAlias(name, n => taken.Contains(FatNames.ShortKey(n))).Value;
            taken.Add(FatNames.ShortKey(alias));
            return FatNames.ShortKey(alias);
        }
        Assert.Equal("HELLO   TXT", Alias("hello.txt"));       // lossless: no tail
        Assert.Equal("HELLO~1 TXT", Alias("Hello.txt"));       // same alias taken: tail
        Assert.Equal("LONGFI~1TXT", Alias("Long file name.txt"));
        Assert.Equal("LONGFI~2TXT", Alias("Long file name 2.txt"));
        Assert.Equal("BASHRC~1   ", Alias(".bashrc"));
        Assert.Equal("A_B~1   C  ", Alias("a+b.c"));
        Assert.Equal("MANYDO~1TXT", Alias("many.dots.here.txt"));
        Assert.Equal("____~1  ___", Alias("日本語の.名前です"));
        for (int i = 3; i <= 9; i++) Alias($"Long file name {i}.txt");
        Assert.Equal("LONGF~10TXT", Alias("Long file name 10.txt"));
        Assert.Null(FatNames.TryExactShortName("lower.txt"));
        Assert.NotNull(FatNames.TryExactShortName("UPPER.TXT"));
        Assert.Null(FatNames.TryExactShortName("TOOLONGNAME.TXT"));

        // The LFN checksum from the Microsoft specification, checked against a value mkfs/mtools agree on.
        Assert.Equal(FatNames.Checksum("HELLO   TXT"u8), ReferenceChecksum("HELLO   TXT"u8));
        static byte ReferenceChecksum(ReadOnlySpan<byte> name)
        {
            int sum = 0;
            foreach (byte b in name) sum = (((sum & 1) != 0 ? 0x80 : 0) + (sum >> 1) + b) & 0xFF;
            return (byte)sum;
        }
    }

    [Fact]
    public async Task TimestampsComeFromTheKernelClockAndMtoolsSeeThem()
    {
        using var image = FatImage.Create(12);
        var when = new DateTimeOffset(2021, 3, 4, 5, 6, 8, TimeSpan.Zero);
        var storage = HostImageStorage.Open(image.Path).Value;
        var fs = (await new FatFileSystemDriver(new FixedClock(when)).MountAsync(TestDevices.Nvme(storage), new MountOptions())).AssertOk();
        (await fs.CreateFileAsync("/Stamped file.txt")).AssertOk();
        (await fs.WriteAsync("/Stamped file.txt", 0, "x"u8.ToArray())).AssertOk();
        Assert.Equal(when, (await fs.StatAsync("/Stamped file.txt")).AssertOk().Modified);
        await fs.DisposeAsync();
        await storage.DisposeAsync();

        var listing = FatImage.Run("mdir", ["-i", image.Path, "::/"]);
        listing.AssertOk();
        Assert.Matches(@"STAMPE~1 TXT\s+1 2021-03-04\s+5:06\s+Stamped file\.txt", listing.Stdout);

        // And the other way round: an mtime set by mcopy -m reads back through Photon.
        var host = image.HostFile("dated");
        File.WriteAllBytes(host, [1, 2, 3]);
        File.SetLastWriteTimeUtc(host, new DateTime(2019, 12, 31, 23, 58, 0, DateTimeKind.Utc));
        FatImage.Run("mcopy", ["-m", "-i", image.Path, host, "::/DATED"]).AssertOk();
        await using var again = await image.MountAsync();
        Assert.Equal(new DateTimeOffset(2019, 12, 31, 23, 58, 0, TimeSpan.Zero), (await again.Fs.StatAsync("/DATED")).AssertOk().Modified);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(32)]
    public async Task FullDiskIsNoSpaceAndRollsBackCleanly(int bits)
    {
        using var image = FatImage.Create(bits);
        var first = FatTestExtensions.RandomBytes(300_000, 9);
        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            (await fs.CreateFileAsync("/keep.bin")).AssertOk();
            (await fs.WriteAsync("/keep.bin", 0, first)).AssertOk();
            (await fs.CreateFileAsync("/huge.bin")).AssertOk();
            var tooBig = new byte[64 * 1024 * 1024];
            (await fs.WriteAsync("/huge.bin", 0, tooBig)).AssertFails(ErrorCode.NoSpace);
            (await fs.WriteAsync("/keep.bin", 100_000, tooBig)).AssertFails(ErrorCode.NoSpace);
            Assert.Equal(0, (await fs.StatAsync("/huge.bin")).AssertOk().Length);
            Assert.Equal(first, await fs.ReadAllAsync("/keep.bin"));
            // The failed writes' allocations were undone, so ordinary work still fits.
            (await fs.WriteAsync("/huge.bin", 0, first)).AssertOk();
        }
        Assert.Equal(first, image.Get("/keep.bin"));
        Assert.Equal(first, image.Get("/huge.bin"));
        image.AssertFsckClean();
    }

    [Fact]
    public async Task FixedRootDirectoryFillsUpWithNoSpace()
    {
        using var image = FatImage.Create(16);
        await using (var mounted = await image.MountAsync())
        {
            var fs = mounted.Fs;
            int created = 0;
            Result result;
            while ((result = await fs.CreateFileAsync($"/F{created}")).IsOk) created++;
            result.AssertFails(ErrorCode.NoSpace);
            Assert.Equal(512 - 1, created); // mkfs gives FAT16 512 root entries; the volume label takes one
            (await fs.DeleteAsync("/F7")).AssertOk();
            (await fs.CreateFileAsync("/AGAIN")).AssertOk();
        }
        Assert.Equal(511, image.List("/").Count);
        image.AssertFsckClean();
    }
}
