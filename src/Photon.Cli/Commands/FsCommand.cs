using System.Buffers.Binary;
using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>
/// `photon fs`: inspect and change FAT and ext4 disk images with Photon's own filesystem drivers (auto-detected with
/// <see cref="IFileSystemDriver.ProbeAsync"/>). Host-side tool: host files are read and written with System.IO; the
/// image is accessed through the HAL image storage and the NVMe-style block driver, exactly as the kernel mounts it,
/// and files are read and written through open-file nodes (each path is resolved once).
/// Exit codes: 0 success, 1 the operation failed (typed error printed), 2 usage error.
/// </summary>
public static class FsCommand
{
    public const string HostPrefix = "host:";
    /// <summary>Per call: large enough that one call keeps several block requests in flight.</summary>
    private const int ChunkBytes = 4 * 1024 * 1024;
    private const long ProgressThreshold = 4L * 1024 * 1024;

    public const string Usage =
        "photon fs ls [--plain|--json] <image> [path]   (plain, tab-separated, when stdout is not a terminal)\n" +
        "photon fs cat <image> <path>\n" +
        "photon fs cp <image> <src> <dst>     (prefix host files with host:, e.g. host:./a.txt)\n" +
        "photon fs mkdir [-p] <image> <path>\n" +
        "photon fs rm [-r] <image> <path>      (a symbolic link is removed, never followed)\n" +
        "photon fs ln -s <image> <target> <link>   (ext4; the target is kept as text, resolved inside the image)\n" +
        "photon fs readlink <image> <path>\n" +
        "photon fs info <image>";

    private sealed class UsageException(string message) : Exception(message);

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var flags = args.Skip(1).Where(a => a is "-p" or "-r" or "-s" or "--plain" or "--json").ToHashSet();
        var rest = args.Skip(1).Where(a => !flags.Contains(a)).ToArray();
        try
        {
            if (rest.FirstOrDefault(a => a.StartsWith("--", StringComparison.Ordinal)) is { } unknown) throw new UsageException($"unknown option '{unknown}'");
            if (flags.Contains("--plain") && flags.Contains("--json")) throw new UsageException("--plain and --json exclude each other");
            if (args[0] != "ls" && (flags.Contains("--plain") || flags.Contains("--json"))) throw new UsageException("--plain and --json are options of ls");
            var r = args[0] switch
            {
                "ls" => await LsAsync(Arg(rest, 0, "image"), rest.Length > 1 ? rest[1] : "/",
                    FsListing.Choose(flags.Contains("--plain"), flags.Contains("--json"), Console.IsOutputRedirected)),
                "cat" => await CatAsync(Arg(rest, 0, "image"), Arg(rest, 1, "path")),
                "cp" => await CopyAsync(Arg(rest, 0, "image"), Arg(rest, 1, "src"), Arg(rest, 2, "dst")),
                "mkdir" => await MkdirAsync(Arg(rest, 0, "image"), Arg(rest, 1, "path"), flags.Contains("-p")),
                "rm" => await RmAsync(Arg(rest, 0, "image"), Arg(rest, 1, "path"), flags.Contains("-r")),
                "ln" => flags.Contains("-s")
                    ? await SymlinkAsync(Arg(rest, 0, "image"), Arg(rest, 1, "target"), Arg(rest, 2, "link"))
                    : throw new UsageException("only symbolic links are made: ln -s"),
                "readlink" => await ReadLinkAsync(Arg(rest, 0, "image"), Arg(rest, 1, "path")),
                "info" => await InfoAsync(Arg(rest, 0, "image")),
                _ => throw new UsageException($"unknown fs command '{args[0]}'"),
            };
            if (r.IsOk) return 0;
            Console.Error.WriteLine($"photon fs {args[0]}: {r.Error}");
            return 1;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"photon fs: {e.Message}\nusage:\n{Usage}");
            return 2;
        }
    }

    private static string Arg(string[] args, int i, string name) =>
        i < args.Length ? args[i] : throw new UsageException($"missing <{name}>");

    // ---- image access ----

    private sealed class OpenImage(HostImageStorage storage, NvmeBlockDevice driver, IBlockDevice device, IFileSystem fs) : IAsyncDisposable
    {
        public IBlockDevice Device { get; } = device;
        public IFileSystem Fs { get; } = fs;
        public long Bytes => storage.Length;
        public string Backend => storage.Backend == HostStorageBackend.IoUring ? "io_uring"
            : storage.FallbackReason is { } why ? $"thread pool (fallback: {why})" : "thread pool";

        public async ValueTask DisposeAsync()
        {
            await Fs.DisposeAsync();
            await driver.DisposeAsync();
            await storage.DisposeAsync();
        }
    }

    /// <summary>The drivers the CLI can mount with, in probing order.</summary>
    public static IReadOnlyList<IFileSystemDriver> Drivers { get; } = [new FatFileSystemDriver(), new Ext4FileSystemDriver()];

    private static async Task<Result<OpenImage>> OpenAsync(string imagePath, bool writable)
    {
        var storage = HostImageStorage.Open(imagePath, readOnly: !writable);
        if (!storage.IsOk) return storage.Error;
        // The tool's own block driver instance, on a capability manager of its own (no kernel is booted for `photon fs`).
        var started = NvmeBlockDevice.Start(storage.Value, new CapabilityManager());
        if (!started.IsOk) { await storage.Value.DisposeAsync(); return started.Error; }
        var (nvme, cap) = started.Value;
        var device = nvme.Open(cap);
        foreach (var driver in Drivers)
        {
            if (!await driver.ProbeAsync(device)) continue;
            var fs = await driver.MountAsync(device, new MountOptions(ReadOnly: !writable));
            if (!fs.IsOk) { await nvme.DisposeAsync(); await storage.Value.DisposeAsync(); return fs.Error; }
            return new OpenImage(storage.Value, nvme, device, fs.Value);
        }
        await nvme.DisposeAsync();
        await storage.Value.DisposeAsync();
        return Errors.Of(ErrorCode.NotSupported, $"no filesystem recognised on {imagePath} (tried {string.Join(", ", Drivers.Select(d => d.TypeName))})");
    }

    private static async Task<Result> WithImageAsync(string imagePath, bool writable, Func<OpenImage, Task<Result>> body)
    {
        var opened = await OpenAsync(imagePath, writable);
        if (!opened.IsOk) return opened.Error;
        await using var image = opened.Value;
        var r = await body(image);
        if (writable)
        {
            var flushed = await image.Fs.FlushAsync();
            if (r.IsOk && !flushed.IsOk) r = flushed;
        }
        return r;
    }

    /// <summary>Image paths may be given with or without the leading '/'.</summary>
    private static Result<string> ImagePath(string path) => VfsPath.Normalize(path.StartsWith('/') ? path : "/" + path);

    // ---- commands ----

    private static Task<Result> LsAsync(string image, string path, FsListFormat format) => WithImageAsync(image, false, async img =>
    {
        var p = ImagePath(path);
        if (!p.IsOk) return p.Error;
        var st = await img.Fs.StatAsync(p.Value);
        if (!st.IsOk) return st.Error;
        IReadOnlyList<DirectoryEntry> entries;
        if (st.Value.Kind == FileKind.Directory)
        {
            var list = await img.Fs.ReadDirectoryAsync(p.Value);
            if (!list.IsOk) return list.Error;
            entries = list.Value.Where(e => e.Name is not ("." or ".."))
                .OrderBy(e => e.Kind != FileKind.Directory).ThenBy(e => e.Name, StringComparer.Ordinal).ToArray();
        }
        else entries = [new DirectoryEntry(st.Value.Name, st.Value.Kind, st.Value.Length)];
        FsListing.Write(format, entries);
        return Result.Ok;
    });

    private static Task<Result> CatAsync(string image, string path) => WithImageAsync(image, false, async img =>
    {
        var p = ImagePath(path);
        if (!p.IsOk) return p.Error;
        var node = await img.Fs.OpenAsync(p.Value);
        if (!node.IsOk) return node.Error;
        try
        {
            await using var stdout = Console.OpenStandardOutput();
            var buf = new byte[ChunkBytes];
            for (long off = 0; ; )
            {
                var n = await node.Value.ReadAsync(off, buf);
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) return Result.Ok;
                await stdout.WriteAsync(buf.AsMemory(0, n.Value));
                off += n.Value;
            }
        }
        finally { node.Value.Release(); }
    });

    private static async Task<Result> CopyAsync(string image, string src, string dst)
    {
        bool srcHost = src.StartsWith(HostPrefix, StringComparison.Ordinal), dstHost = dst.StartsWith(HostPrefix, StringComparison.Ordinal);
        if (srcHost && dstHost) throw new UsageException("one side of cp must be in the image (only one of src/dst may have host:)");
        return await WithImageAsync(image, writable: !dstHost, async img =>
        {
            // Source: a host file or an image file.
            long length;
            Func<long, Memory<byte>, Task<Result<int>>> read;
            string srcName;
            FileStream? hostIn = null;
            IFileNode? imageIn = null;
            try
            {
                if (srcHost)
                {
                    var hp = src[HostPrefix.Length..];
                    try { hostIn = new FileStream(hp, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        return Result.Fail(e is FileNotFoundException or DirectoryNotFoundException ? ErrorCode.NotFound : ErrorCode.IoError, $"{hp}: {e.Message}");
                    }
                    length = hostIn.Length;
                    srcName = Path.GetFileName(hp);
                    var input = hostIn;
                    read = async (off, buf) => { input.Position = off; return await input.ReadAsync(buf); };
                }
                else
                {
                    var sp = ImagePath(src);
                    if (!sp.IsOk) return sp.Error;
                    var st = await img.Fs.StatAsync(sp.Value);
                    if (!st.IsOk) return st.Error;
                    if (st.Value.Kind == FileKind.Directory) return Result.Fail(ErrorCode.IsADirectory, $"{sp.Value} is a directory");
                    length = st.Value.Length;
                    srcName = st.Value.Name;
                    var opened = await img.Fs.OpenAsync(sp.Value);
                    if (!opened.IsOk) return opened.Error;
                    var node = imageIn = opened.Value;
                    read = async (off, buf) => await node.ReadAsync(off, buf);
                }

                // Destination: a host file or an image file (into a directory keeps the source's name). Either way the bytes
                // go to a temporary file next to the target, renamed over it only when the copy is complete.
                return dstHost ? await CopyToHostAsync(dst[HostPrefix.Length..], srcName, read, length)
                    : await CopyToImageAsync(img.Fs, dst, srcName, read, length);
            }
            finally
            {
                if (hostIn is not null) await hostIn.DisposeAsync();
                imageIn?.Release();
            }
        });
    }

    private static async Task<Result> CopyToImageAsync(IFileSystem fs, string dst, string srcName, Func<long, Memory<byte>, Task<Result<int>>> read, long length)
    {
        var dp = ImagePath(dst);
        if (!dp.IsOk) return dp.Error;
        var path = dp.Value;
        var existing = await fs.StatAsync(path);
        if (existing.IsOk && existing.Value.Kind == FileKind.Directory)
        {
            path = path == "/" ? "/" + srcName : path + "/" + srcName;
            existing = await fs.StatAsync(path);
        }
        if (existing.IsOk && existing.Value.Kind == FileKind.Directory) return Result.Fail(ErrorCode.IsADirectory, $"{path} is a directory");
        if (!existing.IsOk && existing.Code != ErrorCode.NotFound) return existing.Error;
        if (!existing.IsOk)
        {
            // Name the missing directory rather than the temporary file the driver would fail to create in it.
            var parent = path[..Math.Max(1, path.LastIndexOf('/'))];
            var dir = await fs.StatAsync(parent);
            if (!dir.IsOk) return dir.Error;
            if (dir.Value.Kind != FileKind.Directory) return Result.Fail(ErrorCode.NotADirectory, $"{parent} is not a directory");
        }
        var staged = await StagedImageFile.CreateAsync(fs, path, replacing: existing.IsOk);
        if (!staged.IsOk) return staged.Error;
        var node = staged.Value.Node;
        var copied = await PumpAsync(read, async (off, data) => await node.WriteAsync(off, data), length, $"{srcName} → {path}");
        var done = copied.IsOk ? await staged.Value.CommitAsync() : await staged.Value.AbortAsync(copied.Error);
        if (done.IsOk && !Console.IsOutputRedirected) AnsiConsole.MarkupLine($"copied {length:N0} bytes to {Markup.Escape(path)}");
        return done;
    }

    private static async Task<Result> CopyToHostAsync(string hp, string srcName, Func<long, Memory<byte>, Task<Result<int>>> read, long length)
    {
        if (Directory.Exists(hp)) hp = Path.Combine(hp, srcName);
        var dir = Path.GetDirectoryName(Path.GetFullPath(hp))!;
        var temp = Path.Combine(dir, StagedImageFile.Prefix + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)) + ".part");
        Result copied;
        try
        {
            await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, useAsync: true))
            {
                copied = await PumpAsync(read, async (_, data) => { await output.WriteAsync(data); return Result.Ok; }, length, $"{srcName} → {hp}");
            }
            if (copied.IsOk) File.Move(temp, hp, overwrite: true); // rename(2): the target is the old file or the whole new one
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            copied = Result.Fail(e is DirectoryNotFoundException ? ErrorCode.NotFound : e is UnauthorizedAccessException ? ErrorCode.AccessDenied : ErrorCode.IoError, $"{hp}: {e.Message}");
        }
        if (copied.IsOk)
        {
            if (!Console.IsOutputRedirected) AnsiConsole.MarkupLine($"copied {length:N0} bytes to {Markup.Escape(hp)}");
            return copied;
        }
        var outcome = File.Exists(hp) ? $"{hp} keeps its old contents" : $"no file was left at {hp}";
        if (!File.Exists(temp)) return copied;
        try { File.Delete(temp); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Result.Fail(copied.Code, $"{copied.Error.Message}; the partial copy is left at {temp} ({e.Message})");
        }
        return Result.Fail(copied.Code, $"{copied.Error.Message}; the partial copy was removed and {outcome}");
    }

    /// <summary>
    /// Copies in 4 MiB chunks, reading the next chunk while the current one is written (two buffers), so the source and
    /// the destination are busy at the same time; a progress bar shows for large copies on a terminal.
    /// </summary>
    private static async Task<Result> PumpAsync(Func<long, Memory<byte>, Task<Result<int>>> read, Func<long, ReadOnlyMemory<byte>, Task<Result>> write,
        long length, string label)
    {
        byte[] current = new byte[ChunkBytes], next = new byte[ChunkBytes];
        async Task<Result> Loop(Action<long>? progress)
        {
            long off = 0;
            var n = await read(off, current);
            while (true)
            {
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) return off == length ? Result.Ok : Result.Fail(ErrorCode.IoError, $"source ended at {off} of {length} bytes");
                var writing = write(off, current.AsMemory(0, n.Value));
                off += n.Value;
                // The read ahead stops at the length taken at the start: a source that grows is copied as it was.
                var reading = off < length ? read(off, next) : Task.FromResult(Result<int>.Success(0));
                var w = await writing;
                var r = await reading;
                if (!w.IsOk) return w;
                progress?.Invoke(off);
                (current, next) = (next, current);
                n = r;
            }
        }
        if (length < ProgressThreshold || Console.IsOutputRedirected) return await Loop(null);
        Result result = Result.Ok;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(label), maxValue: length);
                result = await Loop(done => task.Value = done);
            });
        return result;
    }

    private static Task<Result> MkdirAsync(string image, string path, bool parents) => WithImageAsync(image, true, async img =>
    {
        var p = VfsPath.Split(path.StartsWith('/') ? path : "/" + path);
        if (!p.IsOk) return p.Error;
        if (p.Value.Length == 0) return Result.Fail(ErrorCode.AlreadyExists, "/ exists");
        for (int i = parents ? 1 : p.Value.Length; i <= p.Value.Length; i++)
        {
            var at = VfsPath.Join(p.Value[..i]);
            var r = await img.Fs.CreateDirectoryAsync(at);
            if (r.IsOk) continue;
            if (parents && r.Code == ErrorCode.AlreadyExists && (await img.Fs.StatAsync(at)) is { IsOk: true } s && s.Value.Kind == FileKind.Directory) continue;
            return r;
        }
        return Result.Ok;
    });

    private static Task<Result> RmAsync(string image, string path, bool recursive) => WithImageAsync(image, true, async img =>
    {
        var p = ImagePath(path);
        if (!p.IsOk) return p.Error;
        if (p.Value == "/") return Result.Fail(ErrorCode.InvalidArgument, "refusing to remove the root directory");
        return recursive ? await DeleteTreeAsync(img.Fs, p.Value, 0) : await img.Fs.DeleteAsync(p.Value);
    });

    /// <summary>Deletes <paramref name="path"/> and, for a directory, everything under it. <paramref name="known"/> is
    /// the kind from the parent's listing (which does not follow links); a symbolic link is deleted, never descended
    /// into, so rm -r cannot empty the directory a link points at.</summary>
    private static async Task<Result> DeleteTreeAsync(IFileSystem fs, string path, int depth, FileKind? known = null)
    {
        if (depth > VfsPath.MaxDepth) return Result.Fail(ErrorCode.Corrupted, $"directory tree deeper than {VfsPath.MaxDepth} at {path}");
        var kind = known;
        if (kind is null && (await fs.ReadLinkAsync(path)).IsOk) kind = FileKind.Symlink;
        if (kind is null)
        {
            var st = await fs.StatAsync(path);
            if (!st.IsOk) return st.Error;
            kind = st.Value.Kind;
        }
        if (kind == FileKind.Directory)
        {
            var list = await fs.ReadDirectoryAsync(path);
            if (!list.IsOk) return list.Error;
            foreach (var e in list.Value.Where(e => e.Name is not ("." or "..")))
            {
                var r = await DeleteTreeAsync(fs, path + "/" + e.Name, depth + 1, e.Kind);
                if (!r.IsOk) return r;
            }
        }
        return await fs.DeleteAsync(path);
    }

    private static Task<Result> SymlinkAsync(string image, string target, string link) => WithImageAsync(image, true, async img =>
    {
        var p = ImagePath(link);
        if (!p.IsOk) return p.Error;
        return await img.Fs.CreateSymlinkAsync(p.Value, target);
    });

    private static Task<Result> ReadLinkAsync(string image, string path) => WithImageAsync(image, false, async img =>
    {
        var p = ImagePath(path);
        if (!p.IsOk) return p.Error;
        var target = await img.Fs.ReadLinkAsync(p.Value);
        if (!target.IsOk) return target.Error;
        Console.WriteLine(target.Value);
        return Result.Ok;
    });

    private static Task<Result> InfoAsync(string image) => WithImageAsync(image, false, async img =>
    {
        var space = img.Fs is IFileSystemSpace s ? await s.GetSpaceAsync() : await ReadSpaceAsync(img.Fs.TypeName, img.Device);
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[bold]image[/]", Markup.Escape(Path.GetFullPath(image)));
        grid.AddRow("[bold]type[/]", Markup.Escape(img.Fs.TypeName));
        grid.AddRow("[bold]image size[/]", $"{img.Bytes:N0} bytes ({img.Device.SectorCount:N0} sectors of {img.Device.SectorSize})");
        grid.AddRow("[bold]storage backend[/]", Markup.Escape(img.Backend));
        if (space.IsOk)
        {
            grid.AddRow("[bold]filesystem size[/]", $"{space.Value.TotalBytes:N0} bytes");
            grid.AddRow("[bold]free[/]", $"{space.Value.FreeBytes:N0} bytes ({(space.Value.TotalBytes == 0 ? 0 : 100.0 * space.Value.FreeBytes / space.Value.TotalBytes):F1}%)");
        }
        else grid.AddRow("[bold]free[/]", $"unknown ({Markup.Escape(space.Error.Message)})");
        AnsiConsole.Write(grid);
        return Result.Ok;
    });

    /// <summary>
    /// Capacity from the on-disk structures, for drivers that do not implement <see cref="IFileSystemSpace"/>: the
    /// ext4 superblock's block counts, or the FAT's free clusters counted from the first FAT. Read-only; every field is
    /// bounds-checked.
    /// </summary>
    internal static async Task<Result<FileSystemSpace>> ReadSpaceAsync(string type, IBlockDevice device)
    {
        int ss = device.SectorSize;
        async Task<Result<byte[]>> ReadBytes(long offset, int count)
        {
            long first = offset / ss, last = (offset + count + ss - 1) / ss;
            if (last > device.SectorCount) return Errors.Of(ErrorCode.Corrupted, "structure beyond the end of the device");
            var buf = new byte[(last - first) * ss];
            var r = await device.ReadAsync(first, buf);
            return r.IsOk ? buf.AsSpan((int)(offset - first * ss), count).ToArray() : r.Error;
        }
        if (type == "ext4")
        {
            var sb = await ReadBytes(1024, 1024);
            if (!sb.IsOk) return sb.Error;
            var b = sb.Value;
            int log = (int)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x18));
            if (log > 6) return Errors.Of(ErrorCode.Corrupted, "bad ext4 block size");
            long blockSize = 1024L << log;
            bool is64 = (BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x60)) & 0x80) != 0;
            ulong blocks = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x04)) | (is64 ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x150)) << 32 : 0);
            ulong free = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x0C)) | (is64 ? (ulong)BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(0x158)) << 32 : 0);
            if (free > blocks || blocks > long.MaxValue / (ulong)blockSize) return Errors.Of(ErrorCode.Corrupted, "bad ext4 block counts");
            return new FileSystemSpace((long)blocks * blockSize, (long)free * blockSize);
        }
        if (type == "vfat")
        {
            var bs = await ReadBytes(0, 512);
            if (!bs.IsOk) return bs.Error;
            var b = bs.Value;
            int bps = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(11)), spc = b[13], reserved = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(14));
            int fats = b[16], rootEntries = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(17));
            long totalSectors = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(19)) is var t16 and > 0 ? t16 : BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(32));
            long fatSectors = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(22)) is var f16 and > 0 ? f16 : BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(36));
            if (bps is not (512 or 1024 or 2048 or 4096) || spc == 0 || fats == 0 || fatSectors == 0) return Errors.Of(ErrorCode.Corrupted, "bad FAT boot sector");
            long rootSectors = (rootEntries * 32L + bps - 1) / bps;
            long dataSectors = totalSectors - reserved - fats * fatSectors - rootSectors;
            if (dataSectors <= 0) return Errors.Of(ErrorCode.Corrupted, "bad FAT geometry");
            long clusters = dataSectors / spc;
            int bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
            long fatBytes = fatSectors * bps;
            if (fatBytes > 256L * 1024 * 1024 || (clusters + 2) * bits / 8 + 2 > fatBytes) return Errors.Of(ErrorCode.Corrupted, "bad FAT size");
            var fat = await ReadBytes(reserved * (long)bps, (int)fatBytes);
            if (!fat.IsOk) return fat.Error;
            var f = fat.Value;
            long freeClusters = 0;
            for (long n = 2; n < clusters + 2; n++)
            {
                uint entry = bits switch
                {
                    12 => (n & 1) == 0 ? (uint)(BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan((int)(n * 3 / 2))) & 0xFFF) : (uint)(BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan((int)(n * 3 / 2))) >> 4),
                    16 => BinaryPrimitives.ReadUInt16LittleEndian(f.AsSpan((int)(n * 2))),
                    _ => BinaryPrimitives.ReadUInt32LittleEndian(f.AsSpan((int)(n * 4))) & 0x0FFFFFFF,
                };
                if (entry == 0) freeClusters++;
            }
            long clusterBytes = (long)spc * bps;
            return new FileSystemSpace(clusters * clusterBytes, freeClusters * clusterBytes);
        }
        return Errors.Of(ErrorCode.NotSupported, $"free space of {type} is not known");
    }
}
