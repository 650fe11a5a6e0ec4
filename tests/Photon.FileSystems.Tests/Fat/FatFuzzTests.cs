using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Fat;

/// <summary>
/// Seeded, bounded fuzzing: random damage to a real mkfs/mtools image (boot sector, FSInfo, FAT, directories,
/// truncation), then mount and a sweep of every operation. Each must succeed or return a typed error: no exception,
/// no hang, no device access outside the volume, no "internal" failure.
/// </summary>
public sealed class FatFuzzTests
{
    private const int Iterations = 300;
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    private static byte[] BuildBaseImage(int bits)
    {
        using var image = FatImage.Create(bits);
        image.Put(FatTestExtensions.RandomBytes(40_000, 21), "/DATA.BIN");
        image.Put("short"u8.ToArray(), "/A long file name for fuzzing.txt");
        image.MakeDirectory("/Sub dir");
        image.MakeDirectory("/Sub dir/nested");
        image.Put(FatTestExtensions.RandomBytes(9_000, 22), "/Sub dir/nested/inner file.bin");
        for (int i = 0; i < 12; i++) image.Put([(byte)i], $"/Sub dir/entry number {i}.txt");
        return File.ReadAllBytes(image.Path);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(16)]
    [InlineData(32)]
    public async Task RandomDamageNeverCrashesHangsOrEscapesTheVolume(int bits)
    {
        var baseImage = BuildBaseImage(bits);
        var g = FatSurgery.Geometry(baseImage);
        long fatStart = g.ReservedSectors * 512L;
        long fatUsedBytes = Math.Min(g.FatSectors * 512L, 2048);
        long dirStart = (g.Type == FatType.Fat32 ? g.ClusterToSector(g.RootCluster) : g.FirstRootDirSector) * 512L;
        long metadataEnd = g.FirstDataSector * 512L + 64L * g.ClusterBytes;
        int mounted = 0;

        for (int iteration = 0; iteration < Iterations; iteration++)
        {
            int seed = bits * 100_000 + iteration;
            var random = new Random(seed);
            long length = baseImage.Length;
            int kind = random.Next(8);
            if (kind == 6) length = random.Next(1, 64) * 512L * (random.Next(2) == 0 ? 1 : (baseImage.Length / 512 / 64));
            length = Math.Min(length, baseImage.Length);
            var storage = new OverlayStorage(baseImage, length);
            string what = Damage(storage, random, kind, fatStart, fatUsedBytes, dirStart, metadataEnd, g);

            var work = Task.Run(() => ExerciseAsync(storage, $"seed {seed} ({what})"));
            var finished = await Task.WhenAny(work, Task.Delay(HangLimit));
            Assert.True(finished == work, $"seed {seed} ({what}): operations did not finish within {HangLimit}");
            if (await work) mounted++;
        }
        // The damage is mostly survivable: most cases must get past mount so the operations are exercised too.
        Assert.True(mounted > Iterations / 3, $"only {mounted} of {Iterations} damaged images mounted");
    }

    private static string Damage(OverlayStorage storage, Random random, int kind, long fatStart, long fatBytes, long dirStart, long metadataEnd, FatGeometry g)
    {
        void Flip(long from, long span, int count)
        {
            for (int i = 0; i < count; i++)
            {
                long at = from + random.NextInt64(Math.Max(1, span));
                storage[at] ^= (byte)(1 << random.Next(8));
            }
        }
        switch (kind)
        {
            case 0: Flip(0, 90, random.Next(1, 3)); return "boot sector bit flips";
            case 1: Flip(fatStart, fatBytes, random.Next(1, 16)); return "FAT bit flips";
            case 2: Flip(dirStart, 1024, random.Next(1, 16)); return "root directory bit flips";
            case 3:
            {
                // Whole garbage directory entries, in the root or in subdirectories' clusters.
                long region = random.Next(2) == 0 ? dirStart : g.FirstDataSector * 512L;
                for (int e = 0; e < random.Next(1, 6); e++)
                {
                    long at = region + random.Next(0, 64) * 32L;
                    for (int b = 0; b < 32; b++) storage[at + b] = (byte)random.Next(256);
                }
                return "garbage directory entries";
            }
            case 4: Flip(g.FirstDataSector * 512L, metadataEnd - g.FirstDataSector * 512L, random.Next(4, 40)); return "data/subdirectory bit flips";
            case 5: Flip(512, 1024, random.Next(1, 8)); Flip(fatStart, fatBytes, 2); return "FSInfo/reserved and FAT bit flips";
            case 7:
            {
                // A random value in one BPB field: bytes/sector, sectors/cluster, reserved, FAT count, root entries,
                // total sectors, FAT size, FAT32 flags/version/root cluster/FSInfo sector.
                int[] fields = [11, 13, 14, 16, 17, 19, 22, 32, 36, 40, 42, 44, 48];
                int field = fields[random.Next(fields.Length)];
                int width = field is 13 or 16 ? 1 : field is 32 or 36 or 44 ? 4 : 2;
                for (int b = 0; b < width; b++) storage[field + b] = (byte)(random.Next(3) == 0 ? 0 : random.Next(256));
                return $"random BPB field at {field}";
            }
            default: return "truncated image";
        }
    }

    /// <summary>Mounts and drives every operation; returns whether the mount succeeded.</summary>
    private static async Task<bool> ExerciseAsync(OverlayStorage storage, string context)
    {
        var device = TestDevices.Nvme(storage);
        var driver = new FatFileSystemDriver();
        await driver.ProbeAsync(device);
        var mount = await driver.MountAsync(device, new MountOptions());
        Check(mount, context, "mount");
        if (!mount.IsOk) return false;
        var fs = mount.Value;

        var files = new List<string>();
        var dirs = new List<string> { "/" };
        await WalkAsync(fs, "/", 0, files, dirs, context);

        var buffer = new byte[70_000];
        foreach (var file in files.Take(20))
        {
            Check(await fs.StatAsync(file), context, "stat " + file);
            Check(await fs.ReadAsync(file, 0, buffer), context, "read " + file);
            Check(await fs.ReadAsync(file, 5000, buffer.AsMemory(0, 100)), context, "read at offset " + file);
        }
        var payload = FatTestExtensions.RandomBytes(20_000, 1);
        foreach (var dir in dirs.Take(4))
        {
            string prefix = dir == "/" ? "" : dir;
            Check(await fs.CreateFileAsync(prefix + "/Fuzz created file.bin"), context, "create in " + dir);
            Check(await fs.WriteAsync(prefix + "/Fuzz created file.bin", 0, payload), context, "write new in " + dir);
            Check(await fs.CreateDirectoryAsync(prefix + "/fuzz dir"), context, "mkdir in " + dir);
        }
        foreach (var file in files.Take(6))
        {
            Check(await fs.WriteAsync(file, 3, payload.AsMemory(0, 5000)), context, "overwrite " + file);
            Check(await fs.TruncateAsync(file, 100), context, "truncate " + file);
            Check(await fs.RenameAsync(file, "/renamed by fuzz " + Guid.NewGuid().ToString("N")[..6]), context, "rename " + file);
        }
        foreach (var file in files.Skip(6).Take(4)) Check(await fs.DeleteAsync(file), context, "delete " + file);
        foreach (var dir in dirs.Skip(1).Take(3))
        {
            Check(await fs.RenameAsync(dir, dir + " moved"), context, "rename dir " + dir);
            Check(await fs.DeleteAsync(dir + " moved"), context, "delete dir " + dir);
        }
        Check(await fs.FlushAsync(), context, "flush");
        await fs.DisposeAsync();
        return true;
    }

    private static async Task WalkAsync(IFileSystem fs, string dir, int depth, List<string> files, List<string> dirs, string context)
    {
        var listing = await fs.ReadDirectoryAsync(dir);
        Check(listing, context, "readdir " + dir);
        if (!listing.IsOk || depth > 3) return;
        foreach (var entry in listing.Value.Take(40))
        {
            string path = (dir == "/" ? "" : dir) + "/" + entry.Name;
            Check(await fs.StatAsync(path), context, "stat " + path);
            if (entry.Kind == FileKind.Directory)
            {
                dirs.Add(path);
                await WalkAsync(fs, path, depth + 1, files, dirs, context);
            }
            else files.Add(path);
        }
    }

    /// <summary>
    /// Any typed error is acceptable on a damaged volume, except an internal one (a bug caught at the boundary) or an
    /// out-of-range device access (the filesystem tried to reach past the volume it validated).
    /// </summary>
    private static void Check<T>(Result<T> result, string context, string operation) => Check(result.IsOk ? Result.Ok : Result.Fail(result.Error), context, operation);

    private static void Check(Result result, string context, string operation)
    {
        if (result.IsOk) return;
        Assert.False(result.Error.Message.StartsWith("internal", StringComparison.Ordinal), $"{context}: {operation}: {result}");
        Assert.True(result.Code != ErrorCode.OutOfRange, $"{context}: {operation} reached outside the volume: {result}");
    }
}
