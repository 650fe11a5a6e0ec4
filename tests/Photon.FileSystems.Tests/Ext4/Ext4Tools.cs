using System.Diagnostics;
using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>Runs the real e2fsprogs tools (mkfs.ext4, debugfs, e2fsck) against image files in a temp directory.</summary>
public sealed class Ext4Scratch : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "photon-ext4-" + Guid.NewGuid().ToString("N")[..12]);

    public Ext4Scratch() => Directory.CreateDirectory(Dir);

    public string PathOf(string name) => Path.Combine(Dir, name);

    public static (int Code, string Output) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["E2FSPROGS_FAKE_TIME"] = "";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000)) { p.Kill(true); throw new TimeoutException($"{exe} timed out"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    public static void MustRun(string exe, params string[] args)
    {
        var (code, output) = Run(exe, args);
        if (code != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {code}: {output}");
    }

    /// <summary>A default Debian mkfs.ext4 image (optionally populated from <paramref name="fromDir"/>).</summary>
    public string MakeImage(string name = "fs.img", string size = "32M", string? fromDir = null, params string[] extra)
    {
        string img = PathOf(name);
        var args = new List<string> { "-q", "-F" };
        args.AddRange(extra);
        if (fromDir is not null) { args.Add("-d"); args.Add(fromDir); }
        args.Add(img); args.Add(size);
        MustRun("mkfs.ext4", args.ToArray());
        return img;
    }

    public static (int Code, string Output) Fsck(string img) => Run("e2fsck", "-fn", img);

    public static void DebugfsWrite(string img, string hostFile, string dest) => MustRun("debugfs", "-w", "-R", $"write {hostFile} {dest}", img);

    public byte[] DebugfsDump(string img, string src)
    {
        string host = PathOf("dump-" + Guid.NewGuid().ToString("N"));
        var (_, output) = Run("debugfs", "-R", $"dump {src} {host}", img);
        if (!File.Exists(host)) throw new InvalidOperationException($"debugfs could not dump {src}: {output}");
        var bytes = File.ReadAllBytes(host);
        File.Delete(host);
        return bytes;
    }

    public static string DebugfsLs(string img, string dir) => Run("debugfs", "-R", $"ls -l {dir}", img).Output;

    public static async Task<(IFileSystem Fs, HostImageStorage Storage)> MountAsync(string img, bool readOnly = false)
    {
        var storage = HostImageStorage.Open(img, readOnly).Value;
        var device = TestDevices.Nvme(storage);
        var fs = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions(readOnly));
        if (!fs.IsOk) { await storage.DisposeAsync(); throw new InvalidOperationException("mount failed: " + fs.Error); }
        return (fs.Value, storage);
    }

    public static async Task UnmountAsync(IFileSystem fs, HostImageStorage storage)
    {
        await fs.DisposeAsync();
        await storage.DisposeAsync();
    }

    public static async Task<byte[]> ReadAllAsync(IFileSystem fs, string path)
    {
        var st = (await fs.StatAsync(path)).Value;
        var data = new byte[st.Length];
        int done = 0;
        while (done < data.Length)
        {
            int n = (await fs.ReadAsync(path, done, data.AsMemory(done, Math.Min(1 << 20, data.Length - done)))).Value;
            if (n == 0) break;
            done += n;
        }
        Assert.Equal(data.Length, done);
        return data;
    }

    public static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>An in-memory block device (for fuzzing thousands of mutated images without touching the disk).</summary>
public sealed class MemoryBlockDevice(byte[] data, int sectorSize = 512) : IBlockDevice
{
    public byte[] Data { get; } = data;
    public int Writes { get; private set; }
    public string Name => "mem";
    public int SectorSize { get; } = sectorSize;
    public long SectorCount => Data.Length / SectorSize;
    public bool IsReadOnly => false;

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, buffer.Length, SectorSize, SectorCount);
        if (!check.IsOk) return ValueTask.FromResult(check);
        Data.AsMemory((int)(lba * SectorSize), buffer.Length).CopyTo(buffer);
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, data.Length, SectorSize, SectorCount);
        if (!check.IsOk) return ValueTask.FromResult(check);
        Writes++;
        data.CopyTo(Data.AsMemory((int)(lba * SectorSize)));
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Result.Ok);
}
