using Photon.Kernel.Scheduling;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Io;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// The VFS: mounts filesystems as <see cref="Mount"/> kernel objects, binds them into namespaces, and serves the async
/// file API to processes. A process resolves a path ("/mnt/data/docs/a.txt") in its own namespace: the longest
/// namespace prefix bound to a mount ("/mnt/data") picks the filesystem, the rest ("/docs/a.txt") is validated by
/// <see cref="VfsPath"/> and handed to the driver. Rights on the mount binding gate every operation:
/// Read (read files, stat), Write (write, truncate), Enumerate (list directories), Create (create files and
/// directories), Delete (delete); rename needs Create and Delete. An open file is a <see cref="VfsFile"/> capability
/// with at most the binding's Read/Write, in the process's handle table; it holds the filesystem's node, and the file
/// syscalls call it directly.
/// </summary>
public sealed class VirtualFileSystem
{
    /// <summary>Rights that mean something on a mount.</summary>
    public const Rights MountRights = Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create | Rights.Delete | Rights.Delegate | Rights.Manage;
    private const Rights MutatingRights = Rights.Write | Rights.Create | Rights.Delete;

    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _namespaces;

    /// <summary>The kernel's timers, for each writable mount's periodic writeback; none, no writeback (tests).</summary>
    public IKernelTimers? Timers { get; init; }

    /// <summary>How often a writable mount asks its filesystem to write back what it holds (Linux's jbd2 commit=5).</summary>
    public TimeSpan WriteBackInterval { get; init; } = TimeSpan.FromSeconds(5);

    public VirtualFileSystem(CapabilityManager caps, NamespaceManager namespaces)
    {
        _caps = caps;
        _namespaces = namespaces;
    }

    // ---- mounting ----

    /// <summary>
    /// Mounts the filesystem <paramref name="driver"/> finds on <paramref name="device"/> and returns the root
    /// capability to the mount (all mount rights, or no mutating rights when read-only), held by <paramref name="actor"/>.
    /// </summary>
    internal async ValueTask<Result<CapabilityToken>> MountAsync(IFileSystemDriver driver, IBlockDevice device, MountOptions options,
        Principal actor, CancellationToken ct = default)
    {
        if (driver is null || device is null) return Errors.Of(ErrorCode.InvalidArgument, "no driver or device");
        options ??= new MountOptions();
        bool readOnly = options.ReadOnly || device.IsReadOnly;
        Result<IFileSystem> mounted;
        try { mounted = await driver.MountAsync(device, options with { ReadOnly = readOnly }, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return Errors.Of(ErrorCode.Cancelled, "mount cancelled"); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.Faulted, $"{driver.GetType().Name}.MountAsync threw {e.GetType().Name}: {e.Message}");
        }
        if (!mounted.IsOk) return mounted.Error;
        var fs = mounted.Value;
        readOnly |= fs.IsReadOnly;
        var mount = new Mount(fs, device.Name, readOnly, Timers, WriteBackInterval);
        var rights = readOnly ? MountRights & ~MutatingRights : MountRights;
        var cap = _caps.Create(mount, rights, actor);
        if (!cap.IsOk) { await mount.CloseAsync().ConfigureAwait(false); return cap.Error; }
        return cap.Value;
    }

    /// <summary>Mounts <paramref name="device"/> with whichever registered driver recognises it.</summary>
    internal async ValueTask<Result<CapabilityToken>> MountAsync(FileSystemRegistry registry, CapabilityToken registryCap, IBlockDevice device,
        MountOptions options, Principal actor, CancellationToken ct = default)
    {
        var driver = await registry.ProbeAsync(registryCap, device, actor, ct).ConfigureAwait(false);
        if (!driver.IsOk) return driver.Error;
        return await MountAsync(driver.Value, device, options, actor, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Binds the mount at <paramref name="path"/> (e.g. "/mnt/data": the namespace /mnt must exist) in the namespace
    /// <paramref name="ns"/> names, with <paramref name="rights"/>. Needs Bind on the parent namespace and Delegate on the
    /// mount capability; the binding never has more rights than that capability.
    /// </summary>
    internal Result<CapabilityToken> Bind(CapabilityToken ns, string path, CapabilityToken mount, Rights rights, Principal actor)
    {
        var parts = NamespacePath.Split(path);
        if (!parts.IsOk) return parts.Error;
        if (parts.Value.Length == 0) return Errors.Of(ErrorCode.InvalidName, "a mount needs a name");
        var m = _caps.Check<Mount>(mount, Rights.None, actor);
        if (!m.IsOk) return m.Error;
        var parent = _namespaces.Lookup(ns, NamespacePath.Join(parts.Value[..^1]), Rights.Bind, actor);
        if (!parent.IsOk) return parent.Error;
        return _namespaces.Bind(parent.Value, parts.Value[^1], mount, rights, actor);
    }

    /// <summary>
    /// Unmounts (needs <see cref="Rights.Manage"/>): revokes every capability to the mount — namespace bindings, open
    /// files through them — then waits for the operation in flight, flushes and closes the filesystem.
    /// </summary>
    public async ValueTask<Result> UnmountAsync(CapabilityToken mount, Principal actor)
    {
        var m = _caps.Check<Mount>(mount, Rights.Manage, actor);
        if (!m.IsOk) return m.Error;
        _caps.RevokeFromRoot(mount, actor);
        return await m.Value.CloseAsync().ConfigureAwait(false);
    }

    // ---- the file API for processes ----

    /// <summary>
    /// Opens a file with <paramref name="access"/> (Read and/or Write). The mount binding must carry those rights (and
    /// Create to create). Returns a handle in <paramref name="process"/>'s table to a file capability with exactly
    /// that access (plus Delegate when the binding has it).
    /// </summary>
    internal async ValueTask<Result<Handle>> OpenAsync(Process process, string path, Rights access, OpenFlags flags = OpenFlags.None,
        CancellationToken ct = default)
    {
        if (access == Rights.None || (access & ~Rights.ReadWrite) != 0)
            return Errors.Of(ErrorCode.InvalidArgument, "open access must be Read, Write or both");
        if ((flags & ~(OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.Truncate)) != 0)
            return Errors.Of(ErrorCode.InvalidArgument, "unknown open flags");
        if (flags.HasFlag(OpenFlags.Truncate) && !access.HasFlag(Rights.Write))
            return Errors.Of(ErrorCode.InvalidArgument, "truncating needs Write access");
        var required = access | (flags.HasFlag(OpenFlags.Create) ? Rights.Create : Rights.None);
        var at = Resolve(process, path, required);
        if (!at.IsOk) return at.Error;
        var (mount, binding, inner) = at.Value;
        var opened = await mount.RunAsync<IFileNode>(async fs =>
        {
            var node = await fs.OpenAsync(inner, ct).ConfigureAwait(false);
            if (node.IsOk && flags.HasFlag(OpenFlags.Create) && flags.HasFlag(OpenFlags.Exclusive))
            {
                node.Value.Release();
                return Errors.Of(ErrorCode.AlreadyExists, $"{path} exists");
            }
            if (!node.IsOk && node.Code == ErrorCode.NotFound && flags.HasFlag(OpenFlags.Create))
            {
                var c = await fs.CreateFileAsync(inner, ct).ConfigureAwait(false);
                if (!c.IsOk) return c.Error;
                node = await fs.OpenAsync(inner, ct).ConfigureAwait(false);
            }
            if (!node.IsOk) return node.Error;
            if (node.Value.Kind == FileKind.Directory && access.HasFlag(Rights.Write))
            {
                node.Value.Release();
                return Errors.Of(ErrorCode.IsADirectory, $"{path} is a directory");
            }
            if (flags.HasFlag(OpenFlags.Truncate))
            {
                var t = await node.Value.TruncateAsync(0, ct).ConfigureAwait(false);
                if (!t.IsOk) { node.Value.Release(); return t.Error; }
            }
            return node;
        }, ct).ConfigureAwait(false);
        if (!opened.IsOk) return opened.Error;
        var bindingInfo = _caps.Inspect(binding);
        // The node goes back through the mount from here on: the operation has ended, so an unmount (and the unload
        // of the filesystem's module) may have finished meanwhile, and then nothing of the filesystem may be called.
        if (!bindingInfo.IsOk) { mount.ReleaseNode(opened.Value); return bindingInfo.Error; }
        var rights = access | (bindingInfo.Value.Rights & Rights.Delegate);
        var file = new VfsFile(mount, opened.Value, inner, binding, _caps, path);
        if (!mount.Track(file)) { mount.ReleaseNode(opened.Value); return Errors.Of(ErrorCode.Revoked, $"{mount} has been unmounted"); }
        var cap = _caps.Create(file, rights, process.Principal);
        if (!cap.IsOk) { mount.ReleaseNode(opened.Value); mount.Forget(file); return cap.Error; }
        var handle = process.AddHandle(cap.Value);
        // Revoking the capability releases the node (VfsFile's last capability).
        if (!handle.IsOk) _caps.Revoke(cap.Value);
        return handle;
    }

    /// <summary>Stat by path (needs Read on the mount binding).</summary>
    internal async ValueTask<Result<FileStat>> StatAsync(Process process, string path, CancellationToken ct = default)
    {
        var at = Resolve(process, path, Rights.Read);
        if (!at.IsOk) return at.Error;
        return await at.Value.Mount.RunAsync(fs => fs.StatAsync(at.Value.Inner, ct), ct).ConfigureAwait(false);
    }

    /// <summary>Lists a directory (needs Enumerate on the mount binding).</summary>
    internal async ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(Process process, string path, CancellationToken ct = default)
    {
        var at = Resolve(process, path, Rights.Enumerate);
        if (!at.IsOk) return at.Error;
        return await at.Value.Mount.RunAsync(fs => fs.ReadDirectoryAsync(at.Value.Inner, ct), ct).ConfigureAwait(false);
    }

    /// <summary>Creates an empty file (needs Create).</summary>
    internal ValueTask<Result> CreateFileAsync(Process process, string path, CancellationToken ct = default) =>
        Mutate(process, path, Rights.Create, (fs, inner) => fs.CreateFileAsync(inner, ct), ct);

    /// <summary>Creates a directory (needs Create).</summary>
    internal ValueTask<Result> CreateDirectoryAsync(Process process, string path, CancellationToken ct = default) =>
        Mutate(process, path, Rights.Create, (fs, inner) => fs.CreateDirectoryAsync(inner, ct), ct);

    /// <summary>Deletes a file or an empty directory (needs Delete).</summary>
    internal ValueTask<Result> DeleteAsync(Process process, string path, CancellationToken ct = default) =>
        Mutate(process, path, Rights.Delete, (fs, inner) => fs.DeleteAsync(inner, ct), ct);

    /// <summary>Renames within one mount (needs Create and Delete on it); across mounts is NotSupported.</summary>
    internal async ValueTask<Result> RenameAsync(Process process, string from, string to, CancellationToken ct = default)
    {
        var a = Resolve(process, from, Rights.Create | Rights.Delete);
        if (!a.IsOk) return a.Error;
        var b = Resolve(process, to, Rights.Create | Rights.Delete);
        if (!b.IsOk) return b.Error;
        if (!ReferenceEquals(a.Value.Mount, b.Value.Mount)) return Result.Fail(ErrorCode.NotSupported, "rename across mounts");
        if (a.Value.Inner == "/" || b.Value.Inner == "/") return Result.Fail(ErrorCode.InvalidArgument, "cannot rename a mount's root");
        return await a.Value.Mount.RunAsync(fs => fs.RenameAsync(a.Value.Inner, b.Value.Inner, ct), ct).ConfigureAwait(false);
    }

    /// <summary>The target of a symbolic link (needs Read on the mount binding).</summary>
    internal async ValueTask<Result<string>> ReadLinkAsync(Process process, string path, CancellationToken ct = default)
    {
        var at = Resolve(process, path, Rights.Read);
        if (!at.IsOk) return at.Error;
        return await at.Value.Mount.RunAsync(fs => fs.ReadLinkAsync(at.Value.Inner, ct), ct).ConfigureAwait(false);
    }

    /// <summary>Creates a symbolic link (needs Create). The target is text; it is resolved inside the link's mount when followed.</summary>
    internal ValueTask<Result> CreateSymlinkAsync(Process process, string path, string target, CancellationToken ct = default) =>
        Mutate(process, path, Rights.Create, (fs, inner) => fs.CreateSymlinkAsync(inner, target, ct), ct);

    // ---- internals ----

    private async ValueTask<Result> Mutate(Process process, string path, Rights required, Func<IFileSystem, string, ValueTask<Result>> op,
        CancellationToken ct)
    {
        var at = Resolve(process, path, required);
        if (!at.IsOk) return at.Error;
        if (at.Value.Inner == "/") return Result.Fail(ErrorCode.InvalidArgument, "cannot create or delete a mount's root");
        return await at.Value.Mount.RunAsync(fs => op(fs, at.Value.Inner), ct).ConfigureAwait(false);
    }

    /// <summary>Finds the mount a path is under in the process's namespace and checks the binding's rights.</summary>
    private Result<(Mount Mount, CapabilityToken Binding, string Inner)> Resolve(Process process, string path, Rights required)
    {
        if (process.State != ProcessState.Running) return Errors.Of(ErrorCode.Closed, $"{process} has exited");
        var parts = VfsPath.Split(path);
        if (!parts.IsOk) return parts.Error;
        var segments = parts.Value;
        for (int i = 1; i <= segments.Length && i <= NamespacePath.MaxDepth; i++)
        {
            // Mount points are namespace names; a segment that cannot be one means no mount is there.
            if (!NamespacePath.ValidateName(segments[i - 1]).IsOk) break;
            var prefix = NamespacePath.Join(segments[..i]);
            var bound = _namespaces.Lookup(process.NamespaceCapability, prefix, Rights.None, process.Principal);
            if (!bound.IsOk)
            {
                if (bound.Code == ErrorCode.NotFound) break;
                return bound.Error;
            }
            var obj = _caps.Check(bound.Value, Rights.None, process.Principal);
            if (!obj.IsOk) return obj.Error;
            if (obj.Value is Namespace) continue;
            if (obj.Value is not Mount) return Errors.Of(ErrorCode.NotADirectory, $"{prefix} is a {obj.Value.Kind}, not a mount");
            var mount = _caps.Check<Mount>(bound.Value, required, process.Principal);
            if (!mount.IsOk) return mount.Error;
            if (mount.Value.IsReadOnly && (required & MutatingRights) != 0)
                return Errors.Of(ErrorCode.ReadOnly, $"{prefix} is mounted read-only");
            return (mount.Value, bound.Value, VfsPath.Join(segments[i..]));
        }
        return Errors.Of(ErrorCode.NotFound, $"no filesystem is mounted at {path} in {process.Namespace.Path}");
    }
}
