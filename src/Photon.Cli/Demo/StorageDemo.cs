using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Cli.Demo;

using Photon.Kernel.Boot;

/// <summary>
/// The storage demo. At boot the kernel loaded the FAT and ext4 drivers as modules (their own collectible load contexts,
/// granted only Bind on /filesystems), put each demo image behind the NVMe-style block driver (/dev/nvme0, /dev/nvme1),
/// probed and mounted it through the registry and bound it into one tenant's namespace — FAT read-write into /tenant-a,
/// ext4 read-only into /tenant-b.
/// Processes in each tenant use the VFS; cross-tenant and write attempts fail; after unmounting, Linux's own checkers
/// (fsck.vfat -n, e2fsck -fn) referee the images.
/// </summary>
public static class StorageDemo
{
    private const string Section = "Storage";

    public static async Task RunAsync(PhotonKernel k, DemoImages images, DemoReport report)
    {
        // The kernel brought the storage up at boot (DemoSystem.Config): the FAT and ext4 modules, one NVMe-style
        // device per image under /dev, and their mounts bound into the tenants. init and the processes it spawns see
        // all of it only as names in their namespaces, through system calls.
        var sys = k.Sys;
        var files = sys.Files!;
        var init = k.Init;
        var modules = sys.Namespaces.List(init, "/modules");
        report.Expect(Section, "init lists /modules (FAT and ext4 loaded at boot through its loader handle, pinned)",
            modules.IsOk && modules.Value.Count(e => e.IsLive) == 2, modules.IsOk ? string.Join(", ", modules.Value.Select(e => e.Name)) : modules.Error.ToString());
        var devices = sys.Namespaces.List(init, "/dev");
        report.Expect(Section, "init lists /dev (NVMe-style devices over the demo images)", devices.IsOk && devices.Value.Count == 2,
            devices.IsOk ? string.Join(", ", devices.Value.Select(e => $"{e.Name} ({e.Kind} {e.Rights.ToShortString()})")) : devices.Error.ToString());
        var mountList = sys.Namespaces.List(init, "/mounts");
        report.Expect(Section, "init lists /mounts (probed through the registry, mounted via the devices' queue pairs)",
            mountList.IsOk && mountList.Value.Count == 2, mountList.IsOk ? string.Join(", ", mountList.Value.Select(e => e.Name)) : mountList.Error.ToString());

        var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
        var tenantB = sys.Namespaces.Open(init, "/tenant-b", Rights.All).Value;
        var (_, filesA) = sys.Processes.Spawn(init, tenantA, "files").Value;
        var (_, filesB) = sys.Processes.Spawn(init, tenantB, "files").Value;
        var mounts = new List<(string Name, string Path, string Checker, string Args)>
        {
            ("fat16", images.Fat16, "fsck.vfat", "-n"),
            ("ext4", images.Ext4, "e2fsck", "-fn"),
        };

        // tenant-a: read what Linux put on the FAT image, write a new file, read it back.
        var hello = await ReadAll(k, filesA, "/mnt/disk/HELLO.TXT");
        report.Expect(Section, "tenant-a reads /mnt/disk/HELLO.TXT (made by mcopy)", hello.IsOk, hello.IsOk ? Encoding.UTF8.GetString(hello.Value).Trim() : hello.Error.ToString());
        var big = await ReadAll(k, filesA, "/mnt/disk/docs/big-file-with-a-long-name.txt");
        report.Expect(Section, "tenant-a reads a 909 KB long-named file", big.IsOk && big.Value.Length == 908894,
            big.IsOk ? $"{big.Value.Length} bytes, ends \"{Encoding.UTF8.GetString(big.Value[^24..]).Trim()}\"" : big.Error.ToString());
        var note = Encoding.UTF8.GetBytes($"Written by Photon at {k.Clock.WallClock:O}\n");
        var wrote = await WriteNew(k, filesA, "/mnt/disk/photon-was-here.txt", note);
        report.ExpectOk(Section, "tenant-a creates /mnt/disk/photon-was-here.txt", wrote, $"{note.Length} bytes");
        var back = await ReadAll(k, filesA, "/mnt/disk/photon-was-here.txt");
        report.Expect(Section, "tenant-a reads it back", back.IsOk && back.Value.AsSpan().SequenceEqual(note), back.IsOk ? "identical" : back.Error.ToString());

        // tenant-b: read-only view of the ext4 image; no view of tenant-a's disk.
        var ext = await ReadAll(k, filesB, "/mnt/disk/hello.txt");
        report.Expect(Section, "tenant-b reads /mnt/disk/hello.txt (made by debugfs)", ext.IsOk, ext.IsOk ? Encoding.UTF8.GetString(ext.Value).Trim() : ext.Error.ToString());
        var list = await files.ReadDirectoryAsync(filesB, "/mnt/disk/etc");
        report.Expect(Section, "tenant-b lists /mnt/disk/etc", list.IsOk && list.Value.Any(e => e.Length == 908894),
            list.IsOk ? string.Join(", ", list.Value.Where(e => e.Name is not ("." or "..")).Select(e => $"{e.Name} ({e.Length} B)")) : list.Error.ToString());
        report.ExpectError(Section, "tenant-b writes to its read-only ext4 view",
            (await files.OpenAsync(filesB, "/mnt/disk/evil.txt", Rights.Write, OpenFlags.Create)).AsResult(), ErrorCode.AccessDenied);
        report.ExpectError(Section, "tenant-b opens tenant-a's disk by path",
            (await files.OpenAsync(filesB, "/tenant-a/mnt/disk/HELLO.TXT", Rights.Read)).AsResult(), ErrorCode.NotFound);
        report.ExpectError(Section, "tenant-b escapes with /mnt/disk/../../tenant-a",
            (await files.OpenAsync(filesB, "/mnt/disk/../../tenant-a/mnt/disk/HELLO.TXT", Rights.Read)).AsResult(), ErrorCode.InvalidName);

        // Unmount through the administrator's view (/mounts/<name>, which carries Manage): the filesystems flush, every
        // binding and open file dies, and Linux's own checkers referee the images. The devices and modules stop at
        // kernel shutdown, in reverse boot order.
        foreach (var m in mounts)
        {
            var admin = sys.Namespaces.Open(init, "/mounts/" + m.Name, Rights.Manage);
            report.ExpectOk(Section, $"init unmounts /mounts/{m.Name}", admin.IsOk ? await files.UnmountAsync(init, admin.Value) : admin.AsResult());
        }
        var afterUnmount = await files.OpenAsync(filesA, "/mnt/disk/HELLO.TXT", Rights.Read);
        report.Expect(Section, "tenant-a opens a file after the unmount", !afterUnmount.IsOk,
            afterUnmount.IsOk ? "unexpectedly succeeded" : $"refused: {afterUnmount.Error}");
        foreach (var m in mounts)
        {
            var args = m.Args;
            var name = Path.GetFileName(m.Path);
            var check = DemoImages.RunChecker(m.Checker, $"{args} {m.Path}");
            if (check is { } c)
                report.Expect(Section, $"{m.Checker} {args} {name} after Photon's writes", c.ExitCode == 0, c.ExitCode == 0 ? "clean" : c.Output);
            else
                report.Expect(Section, $"{m.Checker} {args} {name}", true, $"skipped: {m.Checker} is not installed");
        }
    }

    private static async Task<Result<byte[]>> ReadAll(PhotonKernel k, Process p, string path)
    {
        var h = await k.Sys.Files!.OpenAsync(p, path, Rights.Read);
        if (!h.IsOk) return h.Error;
        try
        {
            var ms = new MemoryStream();
            var buf = new byte[64 * 1024];
            for (long off = 0; ; off += buf.Length)
            {
                var n = await k.Sys.Files!.ReadAsync(p, h.Value, off, buf);
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) return ms.ToArray();
                ms.Write(buf, 0, n.Value);
                if (n.Value < buf.Length) return ms.ToArray();
            }
        }
        finally { k.Sys.Files!.Close(p, h.Value); }
    }

    private static async Task<Result> WriteNew(PhotonKernel k, Process p, string path, byte[] data)
    {
        var h = await k.Sys.Files!.OpenAsync(p, path, Rights.Read | Rights.Write, OpenFlags.Create | OpenFlags.Exclusive);
        if (!h.IsOk) return h.Error;
        try
        {
            var w = await k.Sys.Files!.WriteAsync(p, h.Value, 0, data);
            return w.IsOk ? await k.Sys.Files!.FlushAsync(p, h.Value) : w;
        }
        finally { k.Sys.Files!.Close(p, h.Value); }
    }
}
