using Photon.Kernel.Capabilities;

namespace Photon.Kernel.FileSystems;

/// <summary>
/// An open file: the filesystem's node for it (the resolved inode or cluster chain), reachable only through a
/// capability with Read and/or Write. Positional reads and writes go straight to the node — no path is resolved again.
/// It stays usable only while the mount capability it was opened through is live (unmount or unbind cuts it off);
/// when its last capability dies (close, revoke, process exit) the node is released and later calls fail.
/// Checks here are about ranges and liveness; rights are checked by the syscall that resolved the handle.
/// </summary>
public sealed class VfsFile : KernelObject
{
    public override ObjectKind Kind => ObjectKind.File;

    /// <summary>Null once released (last capability gone) or detached (the mount closed): the file then holds nothing
    /// of the filesystem's, so an unloaded filesystem module can be collected while stale handles remain.</summary>
    private IFileNode? _node;
    private readonly CapabilityManager _caps;

    internal VfsFile(Mount mount, IFileNode node, string path, CapabilityToken mountAccess, CapabilityManager caps, string displayPath)
        : base(displayPath)
    {
        Mount = mount;
        _node = node;
        FileKind = node.Kind;
        Path = path;
        MountAccess = mountAccess;
        _caps = caps;
    }

    public Mount Mount { get; }

    /// <summary>Path inside the mount, as it was opened (a later rename does not change it).</summary>
    public string Path { get; }

    public FileKind FileKind { get; }

    internal CapabilityToken MountAccess { get; }

    internal async ValueTask<Result<int>> ReadAsync(Principal actor, long offset, Memory<byte> buffer, CancellationToken ct)
    {
        var ok = CheckRange(offset, buffer.Length);
        if (!ok.IsOk) return ok.Error;
        var node = Reachable(actor);
        if (!node.IsOk) return node.Error;
        return await Mount.RunAsync(_ => node.Value.ReadAsync(offset, buffer, ct), ct).ConfigureAwait(false);
    }

    internal async ValueTask<Result> WriteAsync(Principal actor, long offset, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var ok = CheckRange(offset, data.Length);
        if (!ok.IsOk) return ok;
        var node = Reachable(actor);
        if (!node.IsOk) return node.Error;
        return await Mount.RunAsync(_ => node.Value.WriteAsync(offset, data, ct), ct).ConfigureAwait(false);
    }

    internal async ValueTask<Result> TruncateAsync(Principal actor, long length, CancellationToken ct)
    {
        if (length < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative length");
        var node = Reachable(actor);
        if (!node.IsOk) return node.Error;
        return await Mount.RunAsync(_ => node.Value.TruncateAsync(length, ct), ct).ConfigureAwait(false);
    }

    internal async ValueTask<Result<FileStat>> StatAsync(Principal actor, CancellationToken ct)
    {
        var node = Reachable(actor);
        if (!node.IsOk) return node.Error;
        return await Mount.RunAsync(_ => node.Value.StatAsync(ct), ct).ConfigureAwait(false);
    }

    /// <summary>Writes back the whole filesystem the file lives on.</summary>
    internal async ValueTask<Result> FlushAsync(Principal actor, CancellationToken ct)
    {
        var node = Reachable(actor);
        if (!node.IsOk) return node.Error;
        return await Mount.RunAsync(fs => fs.FlushAsync(ct), ct).ConfigureAwait(false);
    }

    /// <summary>Offsets are non-negative and offset + length must not overflow (drivers then bound it by the file size).</summary>
    private static Result CheckRange(long offset, int length)
    {
        if (offset < 0) return Result.Fail(ErrorCode.InvalidArgument, "negative offset");
        if (offset > long.MaxValue - length) return Result.Fail(ErrorCode.OutOfRange, "offset + length overflows");
        return Result.Ok;
    }

    private Result<IFileNode> Reachable(Principal actor)
    {
        // The file lives only as long as the mount capability it was opened through.
        var through = _caps.Check(MountAccess, Rights.None, actor);
        if (!through.IsOk) return through.Error;
        var node = Volatile.Read(ref _node);
        if (node is null) return Errors.Of(ErrorCode.Closed, $"{this} is closed");
        return Result<IFileNode>.Success(node);
    }

    /// <summary>The mount closed: the filesystem is gone, drop its node without calling into it.</summary>
    internal void Detach() => Volatile.Write(ref _node, null);

    /// <summary>The last capability is gone (closed, revoked, its process destroyed): the node goes back to the filesystem.</summary>
    protected override void OnLastCapabilityRevoked()
    {
        if (Interlocked.Exchange(ref _node, null) is { } node) Mount.ReleaseNode(node);
        Mount.Forget(this);
    }
}
