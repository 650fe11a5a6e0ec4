using Photon.Kernel;
using Photon.Kernel.FileSystems;

namespace Photon.Fuzz.Targets;

/// <summary>
/// Mounts an image with a real Photon driver and drives every operation (walk, stat, read, create, write, mkdir,
/// truncate, rename, delete, flush), bounded in count. Each must succeed or fail with a typed error; an exception, an
/// "internal" failure or an access outside the device (OutOfRange) is a finding.
/// </summary>
internal static class FileSystemExercise
{
    public static void Run(IFileSystemDriver driver, byte[] input, MountOptions? options = null) =>
        RunAsync(driver, input, options ?? new MountOptions()).GetAwaiter().GetResult();

    private static async Task RunAsync(IFileSystemDriver driver, byte[] input, MountOptions options)
    {
        var disk = new MemoryDisk(input);
        try { await ExerciseAsync(driver, disk, options); }
        finally
        {
            // A read-only mount (a journal replayed in memory included) must leave the device exactly as it was.
            if (options.ReadOnly && disk.Writes != 0) throw new FuzzFinding($"a read-only mount wrote the device {disk.Writes} times");
        }
    }

    private static async Task ExerciseAsync(IFileSystemDriver driver, MemoryDisk disk, MountOptions options)
    {
        var mount = await driver.MountAsync(disk, options);
        Check(mount, "mount");
        if (!mount.IsOk) return;
        var fs = mount.Value;
        var files = new List<string>();
        var dirs = new List<string> { "/" };
        await WalkAsync(fs, "/", 0, files, dirs);
        var buffer = new byte[8192];
        foreach (var file in files.Take(8))
        {
            Check(await fs.StatAsync(file), "stat " + file);
            Check(await fs.ReadAsync(file, 0, buffer), "read " + file);
            Check(await fs.ReadAsync(file, 3000, buffer.AsMemory(0, 100)), "read at offset " + file);
        }
        var payload = new byte[3000];
        new Random(1).NextBytes(payload);
        foreach (var dir in dirs.Take(3))
        {
            string prefix = dir == "/" ? "" : dir;
            Check(await fs.CreateFileAsync(prefix + "/fuzz new.bin"), "create in " + dir);
            Check(await fs.WriteAsync(prefix + "/fuzz new.bin", 0, payload), "write new in " + dir);
            Check(await fs.CreateDirectoryAsync(prefix + "/fuzz dir"), "mkdir in " + dir);
        }
        foreach (var file in files.Take(3))
        {
            Check(await fs.WriteAsync(file, 3, payload.AsMemory(0, 1000)), "overwrite " + file);
            Check(await fs.TruncateAsync(file, 100), "truncate " + file);
            Check(await fs.RenameAsync(file, file + ".moved"), "rename " + file);
        }
        foreach (var file in files.Skip(3).Take(3)) Check(await fs.DeleteAsync(file), "delete " + file);
        foreach (var dir in dirs.Skip(1).Take(2)) Check(await fs.DeleteAsync(dir), "delete dir " + dir);
        Check(await fs.FlushAsync(), "flush");
        await fs.DisposeAsync();
    }

    private static async Task WalkAsync(IFileSystem fs, string dir, int depth, List<string> files, List<string> dirs)
    {
        var listing = await fs.ReadDirectoryAsync(dir);
        Check(listing, "readdir " + dir);
        if (!listing.IsOk || depth > 3) return;
        foreach (var entry in listing.Value.Take(20))
        {
            string path = (dir == "/" ? "" : dir) + "/" + entry.Name;
            Check(await fs.StatAsync(path), "stat " + path);
            if (entry.Kind == FileKind.Directory)
            {
                dirs.Add(path);
                await WalkAsync(fs, path, depth + 1, files, dirs);
            }
            else files.Add(path);
        }
    }

    private static void Check<T>(Result<T> result, string operation) => Check(result.IsOk ? Result.Ok : Result.Fail(result.Error), operation);

    private static void Check(Result result, string operation)
    {
        if (result.IsOk) return;
        if (result.Error.Message.StartsWith("internal", StringComparison.Ordinal) || result.Code == ErrorCode.OutOfRange)
            throw new FuzzFinding($"{operation}: {result}");
    }
}
