using System.Text;
using Photon.FileSystems.Ext4;
using Photon.FileSystems.Fat;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;

namespace Photon.Cli.Demo;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

/// <summary>
/// The storage demo: mounts the FAT16 and ext4 images made by mkfs, reads what Linux tools put there, writes a file
/// through Photon, and has the Linux checkers (fsck.vfat -n, e2fsck -fn) confirm the images are still clean.
/// </summary>
public static class StorageDemo
{
    public static async Task RunAsync(Kernel k, DemoImages images, DemoReport report)
    {
        const string section = "Storage";
        IFileSystemDriver[] drivers = [new FatFileSystemDriver(k.Clock), new Ext4FileSystemDriver(k.Clock)];
        foreach (var (path, expectType, hello, checker, checkerArgs) in new[]
        {
            (images.Fat16, "vfat", "/HELLO.TXT", "fsck.vfat", "-n"),
            (images.Ext4, "ext4", "/hello.txt", "e2fsck", "-fn"),
        })
        {
            var storage = HostImageStorage.Open(path).Value;
            await using var _ = storage;
            var device = new StorageBlockDevice(storage);
            IFileSystemDriver? driver = null;
            foreach (var d in drivers) if (await d.ProbeAsync(device)) { driver = d; break; }
            report.Expect(section, $"probe {Path.GetFileName(path)}", driver?.TypeName == expectType, driver?.TypeName ?? "no driver recognised it");
            if (driver is null) continue;
            var mounted = await driver.MountAsync(device, new MountOptions());
            report.ExpectOk(section, $"mount {expectType}", mounted.AsResult(), $"{device.SectorCount} sectors");
            if (!mounted.IsOk) continue;
            await using var fs = mounted.Value;

            var buf = new byte[256];
            var n = await fs.ReadAsync(hello, 0, buf);
            report.Expect(section, $"{expectType}: read {hello} written by Linux tools", n.IsOk && n.Value > 0,
                n.IsOk ? Encoding.UTF8.GetString(buf, 0, n.Value).Trim() : n.Error.ToString());

            var dirPath = expectType == "vfat" ? "/docs" : "/etc";
            var dir = await fs.ReadDirectoryAsync(dirPath);
            var big = dir.IsOk ? dir.Value.FirstOrDefault(e => e.Name == "big-file-with-a-long-name.txt") : null;
            report.Expect(section, $"{expectType}: list {dirPath} (long name, multi-cluster file)", big is { Length: 908894 },
                dir.IsOk ? string.Join(", ", dir.Value.Where(e => e.Name is not ("." or "..")).Select(e => $"{e.Name} ({e.Length} B)")) : dir.Error.ToString());

            var note = Encoding.UTF8.GetBytes($"Written by Photon at {k.Clock.WallClock:O}\n");
            var wrote = await fs.CreateFileAsync("/photon-was-here.txt") is { IsOk: true } ? await fs.WriteAsync("/photon-was-here.txt", 0, note) : Result.Fail(ErrorCode.IoError, "create failed");
            report.ExpectOk(section, $"{expectType}: create and write /photon-was-here.txt", wrote, $"{note.Length} bytes");
            report.ExpectOk(section, $"{expectType}: flush", await fs.FlushAsync());
            var back = new byte[note.Length];
            var r = await fs.ReadAsync("/photon-was-here.txt", 0, back);
            report.Expect(section, $"{expectType}: read it back", r.IsOk && back.AsSpan().SequenceEqual(note), r.IsOk ? "identical" : r.Error.ToString());
            report.ExpectError(section, $"{expectType}: create an existing name", await fs.CreateFileAsync("/photon-was-here.txt"), ErrorCode.AlreadyExists);
            await fs.DisposeAsync();
            await storage.FlushAsync();

            // The host's own checker is the referee (host tool run by the CLI, not by the kernel).
            var check = DemoImages.RunChecker(checker, $"{checkerArgs} {path}");
            if (check is { } c)
                report.Expect(section, $"{checker} {checkerArgs} after Photon's writes", c.ExitCode == 0, c.ExitCode == 0 ? "clean" : c.Output);
            else
                report.Expect(section, $"{checker} {checkerArgs} after Photon's writes", true, $"skipped: {checker} is not installed (apt-get install {(checker == "e2fsck" ? "e2fsprogs" : "dosfstools")})");
        }
    }
}
