using Photon.Kernel.Processes;

namespace Photon.Sandbox.Wasi;

internal enum WasiFdKind { Stdin, Stdout, Stderr, Directory, File }

/// <summary>
/// One WASI file descriptor. Files and directories are kernel handles in the guest process's table (a
/// <c>VfsFile</c> capability): every read and write goes through that handle, so its rights — at most the mount
/// binding's — are what the guest can do. <see cref="Path"/> is the name in the guest's namespace ("/data/docs"), used
/// for directory-relative path calls; <see cref="Root"/> is the preopen it was reached from, which paths cannot leave.
/// </summary>
internal sealed class WasiFd(WasiFdKind kind, Handle handle, string path, string root)
{
    public WasiFdKind Kind { get; } = kind;
    public Handle Handle { get; } = handle;
    public string Path { get; } = path;
    public string Root { get; } = root;

    /// <summary>The name <c>fd_prestat_dir_name</c> reports (preopens only).</summary>
    public string? PreopenName { get; init; }
    public bool CanRead { get; init; }
    public bool CanWrite { get; init; }
    public long Position { get; set; }
    public bool Append { get; set; }
}

/// <summary>A guest's descriptors: 0–2 are stdio, then the preopens; new descriptors take the lowest free number.
/// Bounded, so a guest that opens without closing gets EMFILE instead of growing the table.</summary>
internal sealed class WasiFdTable
{
    public const int MaxFds = 1024;

    private readonly Dictionary<int, WasiFd> _fds = new();

    public int Count => _fds.Count;

    public bool TryGet(int fd, out WasiFd entry) => _fds.TryGetValue(fd, out entry!);

    public WasiErrno TryAdd(WasiFd entry, out int fd)
    {
        fd = -1;
        if (_fds.Count >= MaxFds) return WasiErrno.MFile;
        for (int i = 0; ; i++)
        {
            if (_fds.ContainsKey(i)) continue;
            _fds[i] = entry;
            fd = i;
            return WasiErrno.Success;
        }
    }

    public bool Remove(int fd) => _fds.Remove(fd);

    public IEnumerable<WasiFd> All => _fds.Values;
}
