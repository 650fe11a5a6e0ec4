namespace Photon.Sandbox.Wasi;

/// <summary>
/// Turns a guest path, relative to a directory descriptor, into a name in the guest's namespace — without ever leaving
/// the preopen the descriptor came from. Absolute paths and a ".." that would climb above the preopen are
/// ENOTCAPABLE (the guest holds no capability there); "." and empty segments are dropped and ".." inside the preopen
/// is resolved here, so the VFS (which refuses both) sees a plain path. Symlinks are refused where they are met
/// (<see cref="WasiPathCalls"/>): the kernel's drivers do not follow them, and neither does WASI here.
/// </summary>
internal static class WasiPaths
{
    public const int MaxPathBytes = 4096;

    public static WasiErrno Resolve(WasiFd dir, string path, out string resolved)
    {
        resolved = "";
        if (dir.Kind != WasiFdKind.Directory) return WasiErrno.NotDir;
        if (path.Length == 0) return WasiErrno.NoEnt;
        if (path[0] == '/') return WasiErrno.NotCapable;
        // Segments of the directory below its preopen root: ".." may pop these, never the root's own.
        var stack = new List<string>();
        if (dir.Path.Length > dir.Root.Length) stack.AddRange(dir.Path[(dir.Root.Length + 1)..].Split('/'));
        foreach (var seg in path.Split('/'))
        {
            if (seg.Length == 0 || seg == ".") continue;
            if (seg == "..")
            {
                if (stack.Count == 0) return WasiErrno.NotCapable;
                stack.RemoveAt(stack.Count - 1);
                continue;
            }
            stack.Add(seg);
        }
        resolved = stack.Count == 0 ? dir.Root : dir.Root + "/" + string.Join('/', stack);
        return resolved.Length > Photon.Kernel.FileSystems.VfsPath.MaxPathLength ? WasiErrno.NameTooLong : WasiErrno.Success;
    }
}
