using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;

namespace Photon.Cli.Shell;

/// <summary>
/// mount, umount. Mounting needs the filesystem registry (/filesystems) and a block device (/dev/NAME) in the
/// shell's namespace — an administrator's shell has them, a tenant's does not — and Bind where the mount goes.
/// Unmounting needs Manage on the binding (the administrator's /mounts/NAME view, or a mount the shell made).
/// </summary>
public static class MountCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("mount", "mount | mount DEVICE PATH [ro]", "List the mounts bound in the shell's namespace, or mount /dev/DEVICE (FAT or ext4, auto-detected) at PATH.", Mount),
        new("umount", "umount PATH", "Unmount the filesystem bound at PATH (needs Manage on it): every binding and open file through it dies.", Umount),
    ];

    private static async Task<Result> Mount(ShellSession s, string[] args)
    {
        switch (args)
        {
            case []:
                return ListMounts(s, "/", 0);
            case [var device, var path]:
                return await MountAsync(s, device, path, readOnly: false).ConfigureAwait(true);
            case [var device, var path, "ro"]:
                return await MountAsync(s, device, path, readOnly: true).ConfigureAwait(true);
            default:
                return ShellCommands.Usage("mount");
        }
    }

    private static Result ListMounts(ShellSession s, string path, int depth)
    {
        var entries = s.Sys.Namespaces.List(s.Self, path);
        if (!entries.IsOk) return depth == 0 ? entries.Error : Result.Ok;
        foreach (var e in entries.Value.OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var full = (path == "/" ? "" : path) + "/" + e.Name;
            if (e.Kind == ObjectKind.Mount) s.Out.WriteLine($"{full,-32} {(e.IsLive ? e.Rights.ToShortString() : "revoked")}");
            else if (e.Kind == ObjectKind.Namespace && e.IsLive && depth < NamespaceCommands.MaxTreeDepth) ListMounts(s, full, depth + 1);
        }
        return Result.Ok;
    }

    private static async Task<Result> MountAsync(ShellSession s, string device, string path, bool readOnly)
    {
        var sys = s.Sys;
        var registry = sys.Namespaces.Open(s.Self, "/filesystems", Rights.Read);
        if (!registry.IsOk) return registry.Error;
        var dev = sys.Namespaces.Open(s.Self, "/dev/" + device, Rights.Read | Rights.Delegate | (readOnly ? Rights.None : Rights.Write));
        if (!dev.IsOk) { sys.Handles.Close(s.Self, registry.Value); return dev.Error; }
        var mount = await sys.Files!.MountAsync(s.Self, registry.Value, dev.Value, new MountOptions(ReadOnly: readOnly)).ConfigureAwait(true);
        if (!mount.IsOk)
        {
            sys.Handles.Close(s.Self, registry.Value);
            sys.Handles.Close(s.Self, dev.Value);
            return mount.Error;
        }
        // The mount reads the device through a capability derived from the shell's device handle, and the binding
        // is derived from the mount handle: the shell keeps both (closing either would cut the mount off).
        sys.Handles.Close(s.Self, registry.Value);
        var rights = VirtualFileSystem.MountRights & (readOnly ? Rights.Read | Rights.Enumerate | Rights.Delegate | Rights.Manage : Rights.All);
        var bound = sys.Files.BindMount(s.Self, s.Root, ShellPaths.Absolute(path), mount.Value, rights);
        if (!bound.IsOk)
        {
            await sys.Files.UnmountAsync(s.Self, mount.Value).ConfigureAwait(true);
            sys.Handles.Close(s.Self, dev.Value);
            return bound;
        }
        s.Out.WriteLine($"/dev/{device} mounted at {ShellPaths.Absolute(path)}{(readOnly ? " (read-only)" : "")}");
        return Result.Ok;
    }

    private static async Task<Result> Umount(ShellSession s, string[] args)
    {
        if (args.Length != 1) return ShellCommands.Usage("umount");
        var m = s.Sys.Namespaces.Open(s.Self, ShellPaths.Absolute(args[0]), Rights.Manage);
        if (!m.IsOk) return m.Error;
        var r = await s.Sys.Files!.UnmountAsync(s.Self, m.Value).ConfigureAwait(true);
        if (!r.IsOk) s.Sys.Handles.Close(s.Self, m.Value);
        else s.Out.WriteLine($"unmounted {ShellPaths.Absolute(args[0])}");
        return r;
    }
}
