using Photon.Kernel.Capabilities;
using Photon.Kernel.Diagnostics.Tracing;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Syscalls;

/// <summary>File system calls: paths resolve in the caller's namespace to a mount binding whose rights gate the
/// operation; open files are handles. The VFS does the resolution and the per-handle checks.</summary>
public sealed class FileSyscalls(VirtualFileSystem vfs, CapabilityManager caps)
{
    public ValueTask<Result<Handle>> OpenAsync(Process caller, string path, Rights access, OpenFlags flags = OpenFlags.None, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.open", vfs.OpenAsync(caller, path, access, flags, ct));

    /// <summary>Reads up to buffer.Length bytes at <paramref name="offset"/> (needs Read on the handle); 0 at end of file.</summary>
    public async ValueTask<Result<int>> ReadAsync(Process caller, Handle file, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.read");
        var f = caller.Get<VfsFile>(file, Rights.Read);
        if (!f.IsOk) return f.Error;
        return await f.Value.ReadAsync(caller.Principal, offset, buffer, ct).ConfigureAwait(false);
    }

    /// <summary>Writes at <paramref name="offset"/>, growing the file (needs Write on the handle).</summary>
    public async ValueTask<Result> WriteAsync(Process caller, Handle file, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.write");
        var f = caller.Get<VfsFile>(file, Rights.Write);
        if (!f.IsOk) return f.Error;
        return await f.Value.WriteAsync(caller.Principal, offset, data, ct).ConfigureAwait(false);
    }

    /// <summary>Sets the file's length (needs Write on the handle).</summary>
    public async ValueTask<Result> TruncateAsync(Process caller, Handle file, long length, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.truncate");
        var f = caller.Get<VfsFile>(file, Rights.Write);
        if (!f.IsOk) return f.Error;
        return await f.Value.TruncateAsync(caller.Principal, length, ct).ConfigureAwait(false);
    }

    /// <summary>Writes back the file's filesystem (needs Write on the handle).</summary>
    public async ValueTask<Result> FlushAsync(Process caller, Handle file, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.flush");
        var f = caller.Get<VfsFile>(file, Rights.Write);
        if (!f.IsOk) return f.Error;
        return await f.Value.FlushAsync(caller.Principal, ct).ConfigureAwait(false);
    }

    /// <summary>Stat of an open file (holding the handle is enough).</summary>
    public async ValueTask<Result<FileStat>> StatAsync(Process caller, Handle file, CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.stat");
        var f = caller.Get<VfsFile>(file, Rights.None);
        if (!f.IsOk) return f.Error;
        return await f.Value.StatAsync(caller.Principal, ct).ConfigureAwait(false);
    }

    /// <summary>Closes a file handle: its capability is revoked, and with the file's last capability its node is released.</summary>
    public Result Close(Process caller, Handle file)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.close");
        var f = caller.Get<VfsFile>(file, Rights.None);
        if (!f.IsOk && f.Code is ErrorCode.InvalidHandle or ErrorCode.WrongObjectType) return f.Error;
        return caller.Close(file);
    }

    public ValueTask<Result<FileStat>> StatAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.stat", vfs.StatAsync(caller, path, ct));

    public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.read_directory", vfs.ReadDirectoryAsync(caller, path, ct));

    public ValueTask<Result> CreateFileAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.create_file", vfs.CreateFileAsync(caller, path, ct));

    public ValueTask<Result> CreateDirectoryAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.create_directory", vfs.CreateDirectoryAsync(caller, path, ct));

    public ValueTask<Result> DeleteAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.delete", vfs.DeleteAsync(caller, path, ct));

    public ValueTask<Result> RenameAsync(Process caller, string from, string to, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.rename", vfs.RenameAsync(caller, from, to, ct));

    public ValueTask<Result<string>> ReadLinkAsync(Process caller, string path, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.read_link", vfs.ReadLinkAsync(caller, path, ct));

    public ValueTask<Result> CreateSymlinkAsync(Process caller, string path, string target, CancellationToken ct = default) =>
        SyscallSpan.Track(caller, "sys.fs.create_symlink", vfs.CreateSymlinkAsync(caller, path, target, ct));

    // ---- mounting ----

    /// <summary>
    /// Mounts <paramref name="device"/> with whichever driver in the filesystem registry <paramref name="registry"/>
    /// names recognises it (needs Read on the registry). The caller gets a handle to the mount: every mount right, or
    /// none that mutate when the mount is read-only.
    /// </summary>
    public async ValueTask<Result<Handle>> MountAsync(Process caller, Handle registry, IBlockDevice device, MountOptions? options = null,
        CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.mount");
        var r = caller.GetWithToken<FileSystemRegistry>(registry, Rights.Read);
        if (!r.IsOk) return r.Error;
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var mount = await vfs.MountAsync(r.Value.Object, r.Value.Token, device, options ?? new MountOptions(), caller.Principal, ct).ConfigureAwait(false);
        // If the handle cannot be issued the capability is revoked, and with its last capability the mount closes.
        return mount.IsOk ? caller.AddHandle(mount.Value) : mount.Error;
    }

    /// <summary>
    /// Mounts the block device <paramref name="device"/> names (a device bound under <c>/dev</c>; needs Read and Delegate,
    /// and Write unless <paramref name="options"/> is read-only). The mount reads and writes through a capability
    /// derived from the caller's handle, so closing that handle, or revoking the device capability it came from (the
    /// <c>/dev</c> binding), cuts the mount off.
    /// </summary>
    public async ValueTask<Result<Handle>> MountAsync(Process caller, Handle registry, Handle device, MountOptions? options = null,
        CancellationToken ct = default)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.mount");
        options ??= new MountOptions();
        var access = Rights.Read | (options.ReadOnly ? Rights.None : Rights.Write);
        var d = caller.GetWithToken<Io.BlockDeviceObject>(device, access | Rights.Delegate);
        if (!d.IsOk) return d.Error;
        var r = caller.GetWithToken<FileSystemRegistry>(registry, Rights.Read);
        if (!r.IsOk) return r.Error;
        if (caller.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{caller} has exited");
        var forMount = caps.Derive(d.Value.Token, access, caller.Principal, caller.Principal);
        if (!forMount.IsOk) return forMount.Error;
        var mount = await vfs.MountAsync(r.Value.Object, r.Value.Token, d.Value.Object.Open(forMount.Value, caller.Principal), options,
            caller.Principal, ct).ConfigureAwait(false);
        if (!mount.IsOk) { caps.Revoke(forMount.Value); return mount.Error; }
        return caller.AddHandle(mount.Value);
    }

    /// <summary>
    /// Binds the mount at <paramref name="path"/> relative to the namespace <paramref name="ns"/> names (needs Read on
    /// it to walk, Bind on the parent of the last name, Delegate on the mount), with at most <paramref name="rights"/>.
    /// </summary>
    public Result BindMount(Process caller, Handle ns, string path, Handle mount, Rights rights)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.bind_mount");
        var n = caller.GetWithToken<Namespace>(ns, Rights.Read);
        if (!n.IsOk) return n.Error;
        var m = caller.GetWithToken<Mount>(mount, Rights.Delegate);
        if (!m.IsOk) return m.Error;
        return vfs.Bind(n.Value.Token, path, m.Value.Token, rights, caller.Principal).AsResult();
    }

    /// <summary>Unmounts (needs Manage): every binding and open file through the mount dies, then the filesystem is
    /// flushed and closed. The handle is closed.</summary>
    public async ValueTask<Result> UnmountAsync(Process caller, Handle mount)
    {
        using var traceSpan = SyscallSpan.Enter(caller, "sys.fs.unmount");
        var m = caller.GetWithToken<Mount>(mount, Rights.Manage);
        if (!m.IsOk) return m.Error;
        caller.Handles.Remove(mount);
        return await vfs.UnmountAsync(m.Value.Token, caller.Principal).ConfigureAwait(false);
    }
}
