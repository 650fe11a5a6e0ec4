using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// The <c>path_*</c> calls: a guest path relative to a directory descriptor is resolved inside that descriptor's
/// preopen (<see cref="WasiPaths"/>), then the file syscalls act on the name in the guest's namespace, where the
/// mount binding's rights decide — a read-only grant refuses every write, create and delete (ENOTCAPABLE).
/// </summary>
internal static class WasiPathCalls
{
    private const int OflagCreat = 1, OflagDirectory = 2, OflagExcl = 4, OflagTrunc = 8;
    private const ulong RightFdRead = 1 << 1, RightFdWrite = 1 << 6, RightFdReaddir = 1 << 14;
    private const ulong RightFdAllocate = 1 << 8, RightFdFilestatSetSize = 1 << 22;

    private static WasiErrno Decode(WasiContext cx, Caller c, int fd, int pathPtr, int pathLen, out string resolved)
    {
        resolved = "";
        if (!cx.Fds.TryGet(fd, out var dir)) return WasiErrno.BadF;
        var e = new WasiMemory(c).TryReadPath(pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        e = WasiPaths.Resolve(dir, path, out resolved);
        if (e != WasiErrno.Success) return e;
        return cx.Files is null ? WasiErrno.NotSup : WasiErrno.Success;
    }

    public static WasiErrno Open(WasiContext cx, Caller c, int fd, int dirflags, int pathPtr, int pathLen, int oflags,
        long rightsBase, int fdflags, int fdOutPtr)
    {
        var mem = new WasiMemory(c);
        var e = Decode(cx, c, fd, pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        if (!mem.TrySpan(fdOutPtr, 4, out _)) return WasiErrno.Fault;
        if ((oflags & ~(OflagCreat | OflagDirectory | OflagExcl | OflagTrunc)) != 0) return WasiErrno.Inval;
        if ((dirflags & ~1) != 0) return WasiErrno.Inval;
        if ((fdflags & ~(WasiFdCalls.FdflagAppend | WasiFdCalls.FdflagNonblock)) != 0) return WasiErrno.NotSup; // the sync flags
        if (cx.Fds.Count >= WasiFdTable.MaxFds) return WasiErrno.MFile;
        cx.Fds.TryGet(fd, out var parent);
        var rights = (ulong)rightsBase;
        bool write = (rights & (RightFdWrite | RightFdAllocate | RightFdFilestatSetSize)) != 0 || (oflags & OflagTrunc) != 0;
        bool read = (rights & (RightFdRead | RightFdReaddir)) != 0 || !write;

        if ((oflags & OflagDirectory) != 0)
        {
            if ((oflags & (OflagCreat | OflagTrunc)) != 0 || write) return WasiErrno.Inval;
            var st = WasiContext.Wait(cx.Files!.StatAsync(cx.Process, path));
            if (!st.IsOk) return Refused(cx, path, st.Code);
            if (st.Value.Kind == FileKind.Symlink) return WasiErrno.NotCapable;
            if (st.Value.Kind != FileKind.Directory) return WasiErrno.NotDir;
        }
        var flags = ((oflags & OflagCreat) != 0 ? OpenFlags.Create : 0) | ((oflags & OflagExcl) != 0 ? OpenFlags.Exclusive : 0)
                    | ((oflags & OflagTrunc) != 0 ? OpenFlags.Truncate : 0);
        var access = (read ? Rights.Read : Rights.None) | (write ? Rights.Write : Rights.None);
        var h = WasiContext.Wait(cx.Files!.OpenAsync(cx.Process, path, access, flags));
        if (!h.IsOk) return Refused(cx, path, h.Code);
        var stat = WasiContext.Wait(cx.Files.StatAsync(cx.Process, h.Value));
        WasiErrno refuse = !stat.IsOk ? WasiErrors.From(stat.Code)
            : stat.Value.Kind == FileKind.Symlink ? WasiErrno.NotCapable  // the VFS resolves links on open; a link itself is never handed out
            : (oflags & OflagDirectory) != 0 && stat.Value.Kind != FileKind.Directory ? WasiErrno.NotDir
            : WasiErrno.Success;
        if (refuse != WasiErrno.Success) { cx.Files.Close(cx.Process, h.Value); return refuse; }
        var kind = stat.Value.Kind == FileKind.Directory ? WasiFdKind.Directory : WasiFdKind.File;
        var entry = new WasiFd(kind, h.Value, path, parent.Root)
        {
            CanRead = read, CanWrite = write, Append = (fdflags & WasiFdCalls.FdflagAppend) != 0,
        };
        var added = cx.Fds.TryAdd(entry, out var newFd);
        if (added != WasiErrno.Success) { cx.Files.Close(cx.Process, h.Value); return added; }
        mem.TryWriteU32(fdOutPtr, (uint)newFd);
        return WasiErrno.Success;
    }

    public static WasiErrno FilestatGet(WasiContext cx, Caller c, int fd, int flags, int pathPtr, int pathLen, int bufPtr)
    {
        var mem = new WasiMemory(c);
        var e = Decode(cx, c, fd, pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        if (!mem.TrySpan(bufPtr, 64, out _)) return WasiErrno.Fault;
        if ((flags & ~1) != 0) return WasiErrno.Inval;
        var st = WasiContext.Wait(cx.Files!.StatAsync(cx.Process, path));
        if (!st.IsOk) return Refused(cx, path, st.Code);
        // Following a symlink would leave the capability's tree; asked to follow one, refuse.
        if (st.Value.Kind == FileKind.Symlink && (flags & 1) != 0) return WasiErrno.NotCapable;
        return WasiFdCalls.WriteFilestat(mem, bufPtr, WasiFdCalls.FileType(st.Value.Kind), st.Value.Length, st.Value.Modified);
    }

    public static WasiErrno CreateDirectory(WasiContext cx, Caller c, int fd, int pathPtr, int pathLen)
    {
        var e = Decode(cx, c, fd, pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        var r = WasiContext.Wait(cx.Files!.CreateDirectoryAsync(cx.Process, path));
        return r.IsOk ? WasiErrno.Success : Refused(cx, path, r.Code);
    }

    public static WasiErrno UnlinkFile(WasiContext cx, Caller c, int fd, int pathPtr, int pathLen)
    {
        var e = Decode(cx, c, fd, pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        var st = WasiContext.Wait(cx.Files!.StatAsync(cx.Process, path));
        if (st.IsOk && st.Value.Kind == FileKind.Directory) return WasiErrno.IsDir;
        var r = WasiContext.Wait(cx.Files.DeleteAsync(cx.Process, path));
        return r.IsOk ? WasiErrno.Success : Refused(cx, path, r.Code);
    }

    public static WasiErrno RemoveDirectory(WasiContext cx, Caller c, int fd, int pathPtr, int pathLen)
    {
        var e = Decode(cx, c, fd, pathPtr, pathLen, out var path);
        if (e != WasiErrno.Success) return e;
        if (cx.Fds.TryGet(fd, out var dir) && path == dir.Root) return WasiErrno.Busy; // the preopen itself
        var st = WasiContext.Wait(cx.Files!.StatAsync(cx.Process, path));
        if (st.IsOk && st.Value.Kind != FileKind.Directory) return WasiErrno.NotDir;
        var r = WasiContext.Wait(cx.Files.DeleteAsync(cx.Process, path));
        return r.IsOk ? WasiErrno.Success : Refused(cx, path, r.Code);
    }

    public static WasiErrno Rename(WasiContext cx, Caller c, int fd, int oldPtr, int oldLen, int newFd, int newPtr, int newLen)
    {
        var e = Decode(cx, c, fd, oldPtr, oldLen, out var from);
        if (e != WasiErrno.Success) return e;
        e = Decode(cx, c, newFd, newPtr, newLen, out var to);
        if (e != WasiErrno.Success) return e;
        var r = WasiContext.Wait(cx.Files!.RenameAsync(cx.Process, from, to));
        return r.IsOk ? WasiErrno.Success : r.Code == ErrorCode.NotSupported ? WasiErrno.XDev : Refused(cx, from, r.Code);
    }

    /// <summary>A failure on a path that runs through a symlink is ENOTCAPABLE (the drivers do not follow links, so a
    /// link in the middle shows up as "not a directory"); anything else keeps its own errno.</summary>
    private static WasiErrno Refused(WasiContext cx, string path, ErrorCode code)
    {
        if (code is ErrorCode.NotADirectory or ErrorCode.NotFound)
        {
            var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
            for (int i = 2; i <= parts.Length; i++)
            {
                var st = WasiContext.Wait(cx.Files!.StatAsync(cx.Process, "/" + string.Join('/', parts[..i])));
                if (!st.IsOk) break;
                if (st.Value.Kind == FileKind.Symlink) return WasiErrno.NotCapable;
            }
        }
        return WasiErrors.From(code);
    }
}
