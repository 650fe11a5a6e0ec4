using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.FileSystems.Tests.Ext4;
using Photon.FileSystems.Tests.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// Open files as kernel objects holding the filesystem's node, through the file syscalls, on FAT and ext4 images made
/// by mkfs and checked afterwards by fsck.vfat / e2fsck and mtools / debugfs.
/// </summary>
public sealed class OpenFileTests : IAsyncLifetime
{
    private const Rights Full = Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create | Rights.Delete;
    private static readonly byte[] Big = FatTestExtensions.RandomBytes(300_000, 11);
    private static readonly byte[] Hello = "hello from the host\n"u8.ToArray();

    private readonly VfsKernel _k = new();
    private FatImage? _fat;
    private Ext4Scratch? _ext4;
    private string _image = "";
    private CapabilityToken _mount;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _k.DisposeAsync();
        _fat?.Dispose();
        _ext4?.Dispose();
    }

    /// <summary>An image of <paramref name="type"/> holding /hello.txt and /big.bin, mounted read-write for a process.</summary>
    private async Task<Process> SetupAsync(string type)
    {
        IFileSystemDriver driver;
        if (type == "vfat")
        {
            _fat = FatImage.Create(16);
            _fat.Put(Hello, "/hello.txt");
            _fat.Put(Big, "/big.bin");
            _image = _fat.Path;
            driver = new FatFileSystemDriver();
        }
        else
        {
            _ext4 = new Ext4Scratch();
            _image = _ext4.MakeImage();
            File.WriteAllBytes(_ext4.PathOf("hello.txt"), Hello);
            File.WriteAllBytes(_ext4.PathOf("big.bin"), Big);
            Ext4Scratch.DebugfsWrite(_image, _ext4.PathOf("hello.txt"), "hello.txt");
            Ext4Scratch.DebugfsWrite(_image, _ext4.PathOf("big.bin"), "big.bin");
            driver = new Ext4FileSystemDriver();
        }
        var device = await _k.OpenDeviceAsync(_image);
        _mount = (await _k.Vfs.MountAsync(driver, device, new MountOptions(), Principal.Kernel)).Value;
        return _k.Tenant("t", _mount, Full);
    }

    /// <summary>Unmounts and has the filesystem's own checker confirm the image is clean.</summary>
    private async Task UnmountAndCheckAsync()
    {
        Assert.True((await _k.Vfs.UnmountAsync(_mount, Principal.Kernel)).IsOk);
        if (_fat is not null) _fat.AssertFsckClean();
        else
        {
            var (code, output) = Ext4Scratch.Fsck(_image);
            Assert.True(code == 0, output);
        }
    }

    private byte[] HostView(string path) => _fat is not null ? _fat.Get(path) : _ext4!.DebugfsDump(_image, path);

    private async Task<byte[]> ReadAllAsync(Process p, Handle h, int chunk = 64 * 1024)
    {
        var ms = new MemoryStream();
        var buf = new byte[chunk];
        for (long off = 0; ; )
        {
            var n = await _k.Files.ReadAsync(p, h, off, buf);
            Assert.True(n.IsOk, n.ToString());
            if (n.Value == 0) return ms.ToArray();
            ms.Write(buf, 0, n.Value);
            off += n.Value;
        }
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Positional_writes_out_of_order_read_back_and_the_host_tools_see_them(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/new.bin", Rights.ReadWrite, OpenFlags.Create)).Value;
        var data = FatTestExtensions.RandomBytes(1_048_576 + 123, 5);
        // Back to front, in uneven pieces, so every write lands at an offset the file has not reached or already has.
        var pieces = new List<(int At, int Length)>();
        for (int at = 0; at < data.Length; at += 200_003) pieces.Add((at, Math.Min(200_003, data.Length - at)));
        pieces.Reverse();
        foreach (var (at, length) in pieces)
            Assert.True((await _k.Files.WriteAsync(p, h, at, data.AsMemory(at, length))).IsOk);
        Assert.Equal(data.Length, (await _k.Files.StatAsync(p, h)).Value.Length);
        Assert.Equal(data, await ReadAllAsync(p, h, 333_333));
        Assert.True(_k.Files.Close(p, h).IsOk);
        await UnmountAndCheckAsync();
        Assert.Equal(data, HostView("/new.bin"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task A_file_deleted_while_open_ends_for_its_handles_and_a_new_file_of_that_name_is_separate(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.ReadWrite)).Value;
        Assert.Equal(4, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Value);
        Assert.True((await _k.Files.DeleteAsync(p, "/mnt/data/big.bin")).IsOk);

        Assert.Equal(ErrorCode.NotFound, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.WriteAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.TruncateAsync(p, h, 10)).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.StatAsync(p, h)).Code);

        // The freed space is reused by a new file under the same name; the old handle must not reach it.
        var fresh = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.ReadWrite, OpenFlags.Create | OpenFlags.Exclusive)).Value;
        var replacement = FatTestExtensions.RandomBytes(100_000, 9);
        Assert.True((await _k.Files.WriteAsync(p, fresh, 0, replacement)).IsOk);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.WriteAsync(p, h, 0, new byte[4])).Code);
        Assert.Equal(replacement, await ReadAllAsync(p, fresh));
        Assert.True(_k.Files.Close(p, h).IsOk);
        Assert.True(_k.Files.Close(p, fresh).IsOk);
        await UnmountAndCheckAsync();
        Assert.Equal(replacement, HostView("/big.bin"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task An_open_file_renamed_keeps_working_under_its_new_name(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/hello.txt", Rights.ReadWrite)).Value;
        Assert.True((await _k.Files.CreateDirectoryAsync(p, "/mnt/data/sub")).IsOk);
        Assert.True((await _k.Files.RenameAsync(p, "/mnt/data/hello.txt", "/mnt/data/sub/a-much-longer-name.txt")).IsOk);
        Assert.True((await _k.Files.WriteAsync(p, h, Hello.Length, "more"u8.ToArray())).IsOk);
        Assert.Equal(Hello.Length + 4, (await _k.Files.StatAsync(p, h)).Value.Length);
        var expected = Hello.Concat("more"u8.ToArray()).ToArray();
        var again = (await _k.Files.OpenAsync(p, "/mnt/data/sub/a-much-longer-name.txt", Rights.Read)).Value;
        Assert.Equal(expected, await ReadAllAsync(p, again));
        Assert.Equal(ErrorCode.NotFound, (await _k.Files.StatAsync(p, "/mnt/data/hello.txt")).Code);
        await UnmountAndCheckAsync();
        Assert.Equal(expected, HostView("/sub/a-much-longer-name.txt"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Two_opens_of_one_file_see_each_others_writes_and_truncation(string type)
    {
        var p = await SetupAsync(type);
        var a = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.ReadWrite)).Value;
        var b = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read)).Value;
        var tail = FatTestExtensions.RandomBytes(70_000, 2);
        Assert.True((await _k.Files.WriteAsync(p, a, Big.Length, tail)).IsOk);
        Assert.Equal(Big.Concat(tail).ToArray(), await ReadAllAsync(p, b));
        Assert.True((await _k.Files.TruncateAsync(p, a, 1000)).IsOk);
        Assert.Equal(Big[..1000], await ReadAllAsync(p, b));
        Assert.True(_k.Files.Close(p, a).IsOk);
        Assert.Equal(Big[..1000], await ReadAllAsync(p, b)); // closing one open leaves the other working
        await UnmountAndCheckAsync();
        Assert.Equal(Big[..1000], HostView("/big.bin"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Closed_stale_and_revoked_file_handles_fail_with_typed_errors(string type)
    {
        var p = await SetupAsync(type);
        var closed = (await _k.Files.OpenAsync(p, "/mnt/data/hello.txt", Rights.ReadWrite)).Value;
        Assert.True(_k.Files.Close(p, closed).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.ReadAsync(p, closed, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.WriteAsync(p, closed, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.StatAsync(p, closed)).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _k.Files.Close(p, closed).Code);

        // A new open may take the closed handle's slot: the old handle value must not reach it.
        var reused = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read)).Value;
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.ReadAsync(p, closed, 0, new byte[4])).Code);
        Assert.Equal(4, (await _k.Files.ReadAsync(p, reused, 0, new byte[4])).Value);

        // Revoking the file's capability (as a delegator would) ends the handle.
        var token = p.GetWithToken<VfsFile>(reused, Rights.None).Value.Token;
        Assert.True(_k.Caps.Revoke(token).IsOk);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.ReadAsync(p, reused, 0, new byte[4])).Code);
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.StatAsync(p, reused)).Code);

        // A handle of another kind is not a file.
        var ns = p.AddHandle(_k.Ns.RootCapability).Value;
        Assert.Equal(ErrorCode.WrongObjectType, (await _k.Files.ReadAsync(p, ns, 0, new byte[4])).Code);
        await UnmountAndCheckAsync();
        Assert.Equal(Big, HostView("/big.bin"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Huge_negative_and_overflowing_offsets_and_lengths_are_typed_errors_that_change_nothing(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.ReadWrite)).Value;
        var one = new byte[1];
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.ReadAsync(p, h, -1, one)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.ReadAsync(p, h, long.MinValue, one)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.ReadAsync(p, h, long.MaxValue, one)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.ReadAsync(p, h, long.MaxValue - 10, new byte[64])).Code);
        Assert.Equal(0, (await _k.Files.ReadAsync(p, h, long.MaxValue - 1, one)).Value); // far past the end: end of file
        Assert.Equal(0, (await _k.Files.ReadAsync(p, h, Big.Length, new byte[1 << 20])).Value);
        Assert.Equal(0, (await _k.Files.ReadAsync(p, h, 0, Memory<byte>.Empty)).Value);

        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.WriteAsync(p, h, -5, one)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.WriteAsync(p, h, long.MaxValue, one)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.WriteAsync(p, h, long.MaxValue - 10, new byte[8])).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.WriteAsync(p, h, 1L << 50, one)).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await _k.Files.TruncateAsync(p, h, -1)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.TruncateAsync(p, h, long.MaxValue)).Code);
        Assert.Equal(ErrorCode.OutOfRange, (await _k.Files.TruncateAsync(p, h, 1L << 50)).Code);

        Assert.Equal(Big.Length, (await _k.Files.StatAsync(p, h)).Value.Length);
        Assert.Equal(Big, await ReadAllAsync(p, h));
        await UnmountAndCheckAsync();
        Assert.Equal(Big, HostView("/big.bin"));
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Closing_a_file_while_reads_are_in_flight_gives_each_read_its_bytes_or_a_typed_error(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read)).Value;
        const int Chunk = 4096;
        var reads = Enumerable.Range(0, 64).Select(async i =>
        {
            var buf = new byte[Chunk];
            var n = await _k.Files.ReadAsync(p, h, (long)i * Chunk, buf);
            return (At: i * Chunk, Result: n, Buffer: buf);
        }).ToList();
        Assert.True(_k.Files.Close(p, h).IsOk);
        foreach (var (at, result, buffer) in await Task.WhenAll(reads))
        {
            if (result.IsOk) Assert.Equal(Big.AsSpan(at, Chunk).ToArray(), buffer);
            else Assert.Contains(result.Code, new[] { ErrorCode.InvalidHandle, ErrorCode.Closed, ErrorCode.Revoked });
        }
        Assert.Equal(ErrorCode.InvalidHandle, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Code);
        // The node went back to the filesystem; a new open gets a working one.
        var again = (await _k.Files.OpenAsync(p, "/mnt/data/big.bin", Rights.Read)).Value;
        Assert.Equal(Big, await ReadAllAsync(p, again));
        await UnmountAndCheckAsync();
    }

    [Theory]
    [InlineData("vfat")]
    [InlineData("ext4")]
    public async Task Unmounting_while_writes_are_in_flight_lets_them_finish_or_refuses_them_and_leaves_a_clean_image(string type)
    {
        var p = await SetupAsync(type);
        var h = (await _k.Files.OpenAsync(p, "/mnt/data/out.bin", Rights.ReadWrite, OpenFlags.Create)).Value;
        var data = FatTestExtensions.RandomBytes(256 * 1024, 4);
        var writes = Enumerable.Range(0, 8).Select(i => _k.Files.WriteAsync(p, h, (long)i * data.Length, data).AsTask()).ToList();
        Assert.True((await _k.Vfs.UnmountAsync(_mount, Principal.Kernel)).IsOk);
        foreach (var r in await Task.WhenAll(writes))
            Assert.True(r.IsOk || r.Code is ErrorCode.Revoked, r.ToString());
        Assert.Equal(ErrorCode.Revoked, (await _k.Files.ReadAsync(p, h, 0, new byte[4])).Code);
        if (_fat is not null) _fat.AssertFsckClean();
        else Assert.Equal(0, Ext4Scratch.Fsck(_image).Code);
    }
}
