using System.Diagnostics;
using Photon.FileSystems.Ext4;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// A copy-on-write view of an image: fuzz iterations mutate and write sectors in an overlay, so the base is shared.
/// Counts writes and any request outside the device (which the driver must never issue).
/// </summary>
public sealed class OverlayBlockDevice(byte[] image, long? truncateTo = null) : IBlockDevice
{
    private const int Sector = 512;
    private readonly Dictionary<long, byte[]> _overlay = new();
    public int Writes { get; private set; }
    public int OutOfRange { get; private set; }
    public string Name => "overlay";
    public int SectorSize => Sector;
    public long SectorCount { get; } = (truncateTo ?? image.Length) / Sector;
    public bool IsReadOnly => false;

    private Span<byte> SectorSpan(long lba)
    {
        if (!_overlay.TryGetValue(lba, out var s)) { s = image.AsSpan((int)(lba * Sector), Sector).ToArray(); _overlay[lba] = s; }
        return s;
    }

    public void Mutate(long byteOffset, Func<byte, byte> f) => SectorSpan(byteOffset / Sector)[(int)(byteOffset % Sector)] = f(Peek(byteOffset));

    public byte Peek(long byteOffset) =>
        _overlay.TryGetValue(byteOffset / Sector, out var s) ? s[byteOffset % Sector] : image[byteOffset];

    public ValueTask<Result> ReadAsync(long lba, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, buffer.Length, Sector, SectorCount);
        if (!check.IsOk) { OutOfRange++; return ValueTask.FromResult(check); }
        for (int i = 0; i < buffer.Length / Sector; i++)
        {
            long l = lba + i;
            ReadOnlySpan<byte> src = _overlay.TryGetValue(l, out var s) ? s : image.AsSpan((int)(l * Sector), Sector);
            src.CopyTo(buffer.Span[(i * Sector)..]);
        }
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> WriteAsync(long lba, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        var check = BlockRange.Validate(lba, data.Length, Sector, SectorCount);
        if (!check.IsOk) { OutOfRange++; return ValueTask.FromResult(check); }
        Writes++;
        for (int i = 0; i < data.Length / Sector; i++) _overlay[lba + i] = data.Slice(i * Sector, Sector).ToArray();
        return ValueTask.FromResult(Result.Ok);
    }

    public ValueTask<Result> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Result.Ok);
}

/// <summary>One fuzz base image (built once) and the byte ranges worth mutating.</summary>
public sealed class Ext4FuzzImage
{
    public byte[] Image { get; }
    public int BlockSize { get; }
    public List<(string Kind, long Start, int Length)> Regions { get; } = new();
    public List<long> DirBlocks { get; } = new();
    public List<long> ExtentBlocks { get; } = new();

    public Ext4FuzzImage()
    {
        using var s = new Ext4Scratch();
        string src = s.PathOf("src");
        Directory.CreateDirectory(Path.Combine(src, "dir", "sub"));
        Directory.CreateDirectory(Path.Combine(src, "big"));
        File.WriteAllText(Path.Combine(src, "hello.txt"), "hello");
        File.WriteAllBytes(Path.Combine(src, "dir", "sub", "data.bin"), Ext4Scratch.RandomBytes(150_000, 5));
        for (int i = 0; i < 250; i++) File.WriteAllText(Path.Combine(src, "big", $"name-{i:D4}-xxxxxxxxxxxxxxxx"), "x");
        string img = s.MakeImage(size: "16M", fromDir: src);
        Ext4Scratch.Run("e2fsck", "-fyD", img);
        var bytes = File.ReadAllBytes(img);
        // Fragment one file with Photon itself so an extent tree of depth 1 exists.
        var dev = new OverlayBlockDevice(bytes);
        var fs = new Ext4FileSystemDriver().MountAsync(dev, new MountOptions()).AsTask().Result.Value;
        fs.CreateFileAsync("/frag-a").AsTask().Wait();
        fs.CreateFileAsync("/frag-b").AsTask().Wait();
        for (int off = 0; off < 200 * 1024; off += 1024)
        {
            Assert.True(fs.WriteAsync("/frag-a", off, new byte[1024]).AsTask().Result.IsOk);
            Assert.True(fs.WriteAsync("/frag-b", off, Ext4Scratch.RandomBytes(1024, off)).AsTask().Result.IsOk);
        }
        var flat = new byte[bytes.Length];
        Assert.True(dev.ReadAsync(0, flat).AsTask().Result.IsOk);
        Image = flat;

        var ext4 = (Ext4FileSystem)fs;
        var vol = ext4.Volume;
        BlockSize = vol.BlockSize;
        foreach (var path in new[] { "/frag-a", "/frag-b" })
        {
            var inode = Resolve(ext4, path);
            ExtentBlocks.AddRange(ExtentTree.LoadAsync(vol, inode, default).AsTask().Result.Value.TreeBlocks);
        }
        Assert.NotEmpty(ExtentBlocks);
        foreach (var path in new[] { "/", "/big", "/dir", "/dir/sub" })
        {
            var inode = Resolve(ext4, path);
            DirBlocks.AddRange(DirectoryBlocks.LoadLayoutAsync(vol, inode, default).AsTask().Result.Value.Physical);
        }
        vol.EndOperation();
        Regions.Add(("superblock", 1024, 1024));
        Regions.Add(("descriptors", (vol.Geo.FirstDataBlock + 1L) * BlockSize, vol.Geo.DescSize * (int)vol.Geo.GroupCount));
        Regions.Add(("inode table", vol.Gd.InodeTable(0) * BlockSize, 64 * vol.Geo.InodeSize));
        foreach (long b in ExtentBlocks) Regions.Add(("extent block", b * BlockSize, BlockSize));
        foreach (long b in DirBlocks) Regions.Add(("dir block", b * BlockSize, BlockSize));
        Regions.Add(("bitmaps", vol.Gd.BlockBitmap(0) * BlockSize, 2 * BlockSize));
    }

    private static Inode Resolve(Ext4FileSystem fs, string path)
    {
        var vol = fs.Volume;
        var cur = vol.ReadInodeAsync(2, default).AsTask().Result.Value;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var rec = DirectoryBlocks.LookupAsync(vol, cur, System.Text.Encoding.UTF8.GetBytes(part), default).AsTask().Result.Value!.Value;
            cur = vol.ReadInodeAsync(rec.Inode, default).AsTask().Result.Value;
        }
        return cur;
    }
}

public sealed class Ext4FuzzTests(Ext4FuzzImage baseImage) : IClassFixture<Ext4FuzzImage>
{
    private static readonly TimeSpan IterationLimit = TimeSpan.FromSeconds(20);

    /// <summary>Mounts the device and runs every operation; every outcome must be a Result, never an exception.</summary>
    private static async Task<string> ExerciseAsync(OverlayBlockDevice dev, bool verify)
    {
        var driver = new Ext4FileSystemDriver { VerifyChecksums = verify };
        var mounted = await driver.MountAsync(dev, new MountOptions());
        if (!mounted.IsOk)
        {
            Assert.Equal(0, dev.Writes); // never write through a mount whose validation failed
            return "mount:" + mounted.Code;
        }
        var fs = mounted.Value;
        bool sawCorruption = false;
        int writesAtCorruption = 0;
        void Note(ErrorCode code)
        {
            if (code == ErrorCode.Corrupted && !sawCorruption) { sawCorruption = true; writesAtCorruption = dev.Writes; }
        }
        var queue = new Queue<(string Path, int Depth)>();
        queue.Enqueue(("/", 0));
        int visited = 0;
        var buf = new byte[64 * 1024];
        while (queue.Count > 0 && visited < 600)
        {
            var (path, depth) = queue.Dequeue();
            var list = await fs.ReadDirectoryAsync(path);
            Note(list.Code);
            if (!list.IsOk) continue;
            foreach (var e in list.Value)
            {
                visited++;
                string child = path == "/" ? "/" + e.Name : path + "/" + e.Name;
                Note((await fs.StatAsync(child)).Code);
                if (e.Kind == FileKind.Directory && depth < 6) queue.Enqueue((child, depth + 1));
                else if (e.Kind == FileKind.File)
                {
                    for (long off = 0; off < 256 * 1024; off += buf.Length)
                    {
                        var r = await fs.ReadAsync(child, off, buf);
                        Note(r.Code);
                        if (!r.IsOk || r.Value == 0) break;
                    }
                }
            }
        }
        Note((await fs.CreateFileAsync("/fuzz-new")).Code);
        Note((await fs.WriteAsync("/fuzz-new", 0, new byte[20_000])).Code);
        Note((await fs.WriteAsync("/frag-b", 5000, new byte[3000])).Code);
        Note((await fs.TruncateAsync("/frag-a", 1234)).Code);
        Note((await fs.CreateDirectoryAsync("/big/fuzz-dir")).Code);
        Note((await fs.RenameAsync("/hello.txt", "/dir/sub/hello2")).Code);
        Note((await fs.DeleteAsync("/dir/sub/data.bin")).Code);
        Note((await fs.DeleteAsync("/big/name-0007-xxxxxxxxxxxxxxxx")).Code);
        if (sawCorruption) Assert.Equal(writesAtCorruption, dev.Writes); // corruption seen: nothing more is written
        await fs.DisposeAsync();
        return sawCorruption ? "corrupted-op" : "ok";
    }

    private static async Task<string> RunIterationAsync(OverlayBlockDevice dev, bool verify, string what)
    {
        var task = Task.Run(() => ExerciseAsync(dev, verify));
        string outcome = "";
        try { outcome = await task.WaitAsync(IterationLimit); }
        catch (TimeoutException) { Assert.Fail($"hang: {what}"); }
        Assert.True(dev.OutOfRange == 0, $"out-of-range device access: {what}");
        return outcome;
    }

    [Fact]
    public async Task Ext4_Fuzz_RandomBitFlipsInMetadata_NeverThrowOrHang()
    {
        var rng = new Random(12345);
        var sw = Stopwatch.StartNew();
        var outcomes = new Dictionary<string, int>();
        for (int iter = 0; iter < 400 && sw.Elapsed < TimeSpan.FromSeconds(40); iter++)
        {
            var (kind, start, length) = baseImage.Regions[rng.Next(baseImage.Regions.Count)];
            var dev = new OverlayBlockDevice(baseImage.Image);
            int flips = 1 + rng.Next(8);
            for (int f = 0; f < flips; f++)
            {
                long at = start + rng.Next(length);
                byte mask = (byte)(1 << rng.Next(8));
                dev.Mutate(at, b => (byte)(b ^ mask));
            }
            bool verify = iter % 3 == 0;
            string what = $"iteration {iter}: {flips} flips in {kind} (verify={verify})";
            string outcome = await RunIterationAsync(dev, verify, what);
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        string summary = string.Join(", ", outcomes.Select(kv => $"{kv.Key}={kv.Value}"));
        // The fuzzer reaches every stage: rejected mounts, corruption found by operations, and clean survivals.
        Assert.True(outcomes.Keys.Any(k => k.StartsWith("mount:", StringComparison.Ordinal)), summary);
        Assert.True(outcomes.ContainsKey("corrupted-op"), summary);
        Assert.True(outcomes.ContainsKey("ok"), summary);
        Console.WriteLine("ext4 fuzz outcomes: " + summary);
    }

    [Fact]
    public async Task Ext4_Fuzz_ChecksummedFlips_AreReportedAsCorrupted()
    {
        // With checksums on, a flip in the superblock must fail the mount with Corrupted.
        var rng = new Random(7);
        for (int i = 0; i < 50; i++)
        {
            var dev = new OverlayBlockDevice(baseImage.Image);
            long at = 1024 + rng.Next(1020);
            dev.Mutate(at, b => (byte)(b ^ (1 << rng.Next(8))));
            var r = await new Ext4FileSystemDriver().MountAsync(dev, new MountOptions());
            Assert.Equal(ErrorCode.Corrupted, r.Code);
            Assert.Equal(0, dev.Writes);
        }
        // A flipped bit in a directory block is caught by its checksum tail.
        var dirDev = new OverlayBlockDevice(baseImage.Image);
        dirDev.Mutate(baseImage.DirBlocks[0] * baseImage.BlockSize + 40, b => (byte)(b ^ 0x10));
        var fs = (await new Ext4FileSystemDriver().MountAsync(dirDev, new MountOptions())).Value;
        Assert.Equal(ErrorCode.Corrupted, (await fs.ReadDirectoryAsync("/")).Code);
        Assert.Equal(ErrorCode.Corrupted, (await fs.CreateFileAsync("/dir/after-corruption")).Code);
        Assert.Equal(0, dirDev.Writes);
    }

    private static void Put16(OverlayBlockDevice d, long at, ushort v) { d.Mutate(at, _ => (byte)v); d.Mutate(at + 1, _ => (byte)(v >> 8)); }
    private static void Put32(OverlayBlockDevice d, long at, uint v) { Put16(d, at, (ushort)v); Put16(d, at + 2, (ushort)(v >> 16)); }

    [Fact]
    public async Task Ext4_Fuzz_TargetedCorruptions_GiveTypedErrors()
    {
        int bs = baseImage.BlockSize;
        var cases = new List<(string, Action<OverlayBlockDevice>)>
        {
            ("bad magic", d => Put16(d, 1024 + 0x38, 0x1234)),
            ("absurd block size", d => Put32(d, 1024 + 0x18, 40)),
            ("zero blocks per group", d => Put32(d, 1024 + 0x20, 0)),
            ("huge inode size", d => Put16(d, 1024 + 0x58, 60000)),
            ("dir rec_len 0", d => Put16(d, baseImage.DirBlocks[0] * bs + 4, 0)),
            ("dir rec_len overruns block", d => Put16(d, baseImage.DirBlocks[0] * bs + 12 + 4, (ushort)(bs + 400))),
            ("extent loops to itself", d =>
            {
                long blk = baseImage.ExtentBlocks[0];
                Put16(d, blk * bs + 6, 1); // claim depth 1 so entries are index nodes
                Put32(d, blk * bs + 12 + 4, (uint)blk);
            }),
            ("extent beyond device", d => Put32(d, baseImage.ExtentBlocks[0] * bs + 12 + 8, 0x7FFFFFF0)),
            ("extent bad magic", d => Put16(d, baseImage.ExtentBlocks[0] * bs, 0xBEEF)),
        };
        foreach (var (name, corrupt) in cases)
            foreach (bool verify in new[] { true, false })
            {
                var dev = new OverlayBlockDevice(baseImage.Image);
                corrupt(dev);
                string outcome = await RunIterationAsync(dev, verify, name);
                if (verify || name.Contains("magic") || name.Contains("size") || name.Contains("group"))
                    Assert.NotEqual("ok", outcome);
            }
        // Truncated images: mount fails or every operation stays inside the shortened device.
        var rng = new Random(99);
        for (int i = 0; i < 40; i++)
        {
            long len = (long)rng.Next(1, baseImage.Image.Length / 512) * 512;
            var dev = new OverlayBlockDevice(baseImage.Image, len);
            await RunIterationAsync(dev, i % 2 == 0, $"truncated to {len}");
        }
    }
}
