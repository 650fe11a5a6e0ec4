using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Cli.Demo;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

/// <summary>
/// The storage demo: the FAT and ext4 drivers are loaded as modules (their own collectible load contexts, granted only
/// Bind on /filesystems); each demo image goes through the NVMe-style block driver, is probed and mounted through the
/// registry, and is bound into one tenant's namespace — FAT read-write into /tenant-a, ext4 read-only into /tenant-b.
/// Processes in each tenant use the VFS; cross-tenant and write attempts fail; after unmounting, Linux's own checkers
/// (fsck.vfat -n, e2fsck -fn) referee the images.
/// </summary>
public static class StorageDemo
{
    private const string Section = "Storage";

    public static async Task RunAsync(Kernel k, DemoImages images, DemoReport report)
    {
        // init loads the modules (their manifests' paths are looked up in init's root namespace), mounts the images
        // and binds them into the tenants — all as system calls through handles in its table.
        var sys = k.Sys;
        var files = sys.Files!;
        var init = k.Init;
        var modules = k.Sys.Modules!;
        var controls = new List<(string Name, Handle Control)>();
        foreach (var module in new[] { "Photon.FileSystems.Fat", "Photon.FileSystems.Ext4" })
        {
            var loaded = await modules.LoadAsync(init, k.InitModuleLoader, k.InitRoot, Path.Combine(AppContext.BaseDirectory, module + ".dll"));
            report.Expect(Section, $"load module {module}", loaded.IsOk,
                loaded.IsOk ? $"'{loaded.Value.Module.Name}' granted {string.Join(", ", loaded.Value.Module.Grants.Select(g => $"{g.Path} ({g.Rights.ToShortString()})"))}" : loaded.Error.ToString());
            if (loaded.IsOk) controls.Add((loaded.Value.Module.Name, loaded.Value.Control));
        }
        report.Expect(Section, "filesystem registry lists the modules' drivers", k.FileSystems.TypeNames.Count == 2, string.Join(", ", k.FileSystems.TypeNames));

        var tenantA = EnsureTenant(k, "tenant-a");
        var tenantB = EnsureTenant(k, "tenant-b");
        var (_, filesA) = sys.Processes.Spawn(init, tenantA, "files").Value;
        var (_, filesB) = sys.Processes.Spawn(init, tenantB, "files").Value;
        var registry = sys.Namespaces.Open(init, "/filesystems", Rights.Read).Value;

        var storages = new List<IAsyncDisposable>();
        var devices = new List<NvmeBlockDevice>();
        var mounts = new List<(string Type, Handle Mount, string Path, string Checker, string Args)>();
        foreach (var (path, tenant, tenantName, rights, checker, args) in new[]
        {
            (images.Fat16, tenantA, "/tenant-a", VirtualFileSystem.MountRights & ~Rights.Manage, "fsck.vfat", "-n"),
            (images.Ext4, tenantB, "/tenant-b", Rights.Read | Rights.Enumerate, "e2fsck", "-fn"),
        })
        {
            var storage = HostImageStorage.Open(path).Value;
            storages.Add(storage);
            // Device bring-up is the driver's own (administrator) API: the device capability goes straight into the
            // block-device face the mount uses.
            var (device, deviceCap) = NvmeBlockDevice.Start(storage, k.Capabilities, new NvmeOptions(QueuePairs: 2, QueueDepth: 32)).Value;
            devices.Add(device);
            var mount = await files.MountAsync(init, registry, device.Open(deviceCap), new MountOptions());
            report.ExpectOk(Section, $"probe and mount {Path.GetFileName(path)} via NVMe queue pairs", mount.AsResult(),
                mount.IsOk ? $"{device.SectorCount} sectors, {device.Queues.Count} queue pairs" : null);
            if (!mount.IsOk) continue;
            var bound = files.BindMount(init, tenant, "/mnt/disk", mount.Value, rights);
            report.ExpectOk(Section, $"bind it at {tenantName}/mnt/disk ({rights.ToShortString()})", bound);
            mounts.Add((Path.GetFileName(path), mount.Value, path, checker, args));
        }

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

        // Tear down: unmount (flushes), stop devices, unload modules, and let Linux referee the images.
        foreach (var m in mounts) report.ExpectOk(Section, $"unmount {m.Type}", await files.UnmountAsync(init, m.Mount));
        foreach (var d in devices) await d.DisposeAsync();
        foreach (var s in storages) await s.DisposeAsync();
        foreach (var (name, control) in controls)
            report.ExpectOk(Section, $"unload module {name} (revokes its grants, unloads its load context)", await modules.UnloadAsync(init, control));
        report.Expect(Section, "registry is empty after unload", k.FileSystems.TypeNames.Count == 0, $"{k.FileSystems.TypeNames.Count} drivers");
        foreach (var m in mounts)
        {
            var check = DemoImages.RunChecker(m.Checker, $"{m.Args} {m.Path}");
            if (check is { } c)
                report.Expect(Section, $"{m.Checker} {m.Args} {m.Type} after Photon's writes", c.ExitCode == 0, c.ExitCode == 0 ? "clean" : c.Output);
            else
                report.Expect(Section, $"{m.Checker} {m.Args} {m.Type}", true, $"skipped: {m.Checker} is not installed");
        }
    }

    /// <summary>init's handle to /name (created if the core demo did not), with a /name/mnt namespace in it.</summary>
    private static Handle EnsureTenant(Kernel k, string name)
    {
        var existing = k.Sys.Namespaces.Open(k.Init, "/" + name, Rights.All);
        var ns = existing.IsOk ? existing.Value : k.Sys.Namespaces.CreateChild(k.Init, k.InitRoot, name).Value;
        // A namespace lives as long as the capability CreateChild returned: keep that handle, close only the probe.
        var mnt = k.Sys.Namespaces.OpenAt(k.Init, ns, "mnt", Rights.Read);
        if (mnt.IsOk) k.Sys.Handles.Close(k.Init, mnt.Value).Unwrap();
        else k.Sys.Namespaces.CreateChild(k.Init, ns, "mnt").Unwrap();
        return ns;
    }

    private static async Task<Result<byte[]>> ReadAll(Kernel k, Process p, string path)
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

    private static async Task<Result> WriteNew(Kernel k, Process p, string path, byte[] data)
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
