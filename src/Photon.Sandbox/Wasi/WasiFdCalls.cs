using System.Buffers;
using Photon.Kernel.FileSystems;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// The <c>fd_*</c> calls. Each decodes first — the descriptor, every guest pointer and length — and then makes one
/// file syscall on the descriptor's kernel handle as the guest's process, which checks the handle's rights.
/// </summary>
internal static class WasiFdCalls
{
    // WASI filetype values.
    public const byte TypeUnknown = 0, TypeCharDevice = 2, TypeDirectory = 3, TypeRegular = 4, TypeSymlink = 7;
    public const ushort FdflagAppend = 1;

    /// <summary>Accepted and ignored: files and stdio never block (opendir sets it).</summary>
    public const ushort FdflagNonblock = 4;
    private const ulong RightFdRead = 1 << 1, RightFdWrite = 1 << 6;

    /// <summary>Every rights bit WASI preview 1 defines. Descriptors report them all: the guest's real rights are its
    /// kernel handles' rights, checked on every call, so the advisory WASI mask adds nothing.</summary>
    public const ulong AllRights = (1UL << 30) - 1;

    public static byte FileType(FileKind kind) => kind switch
    {
        FileKind.File => TypeRegular,
        FileKind.Directory => TypeDirectory,
        FileKind.Symlink => TypeSymlink,
        _ => TypeUnknown,
    };

    public static WasiErrno Read(WasiContext cx, Caller c, int fd, int iovs, int iovsLen, long? at, int nreadPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        var e = mem.TryReadIovecs(iovs, iovsLen, out var list);
        if (e != WasiErrno.Success) return e;
        if (!mem.TrySpan(nreadPtr, 4, out _)) return WasiErrno.Fault;
        if (at < 0) return WasiErrno.Inval;
        if (!f.CanRead) return WasiErrno.BadF;
        long total = 0;
        if (f.Kind == WasiFdKind.Stdin)
        {
            if (at is not null) return WasiErrno.SPipe;
            foreach (var (ptr, len) in list)
            {
                var left = cx.Options.Stdin.Length - cx.StdinPosition;
                int n = (int)Math.Min(Math.Min(len, left), WasiContext.MaxIoBytes - total);
                if (n <= 0) { if (total >= WasiContext.MaxIoBytes) break; continue; } // empty iovecs are skipped, not an end
                mem.TrySpan(ptr, n, out var dst);
                cx.Options.Stdin.AsSpan((int)cx.StdinPosition, n).CopyTo(dst);
                cx.StdinPosition += n;
                total += n;
            }
        }
        else if (f.Kind == WasiFdKind.File)
        {
            long pos = at ?? f.Position;
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(WasiContext.MaxIoBytes, Math.Max(1L, list.Sum(v => (long)v.Len))));
            try
            {
                foreach (var (ptr, len) in list)
                {
                    int want = (int)Math.Min(len, WasiContext.MaxIoBytes - total);
                    if (want <= 0) { if (total >= WasiContext.MaxIoBytes) break; continue; }
                    var r = WasiContext.Wait(cx.Files!.ReadAsync(cx.Process, f.Handle, pos, buffer.AsMemory(0, want)));
                    if (!r.IsOk) { if (total > 0) break; return WasiErrors.From(r.Code); }
                    int n = r.Value;
                    if (n < 0 || n > want) return WasiErrno.Io;
                    // Host calls run no guest code: the span checked when decoding is still the guest's.
                    mem.TrySpan(ptr, n, out var dst);
                    buffer.AsSpan(0, n).CopyTo(dst);
                    pos += n;
                    total += n;
                    if (n < want) break;
                }
            }
            finally { ArrayPool<byte>.Shared.Return(buffer); }
            if (at is null) f.Position = pos;
        }
        else return f.Kind == WasiFdKind.Directory ? WasiErrno.IsDir : WasiErrno.BadF;
        cx.ChargeIo(total);
        mem.TryWriteU32(nreadPtr, (uint)total);
        return WasiErrno.Success;
    }

    public static WasiErrno Write(WasiContext cx, Caller c, int fd, int iovs, int iovsLen, long? at, int nwrittenPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        var e = mem.TryReadIovecs(iovs, iovsLen, out var list);
        if (e != WasiErrno.Success) return e;
        if (!mem.TrySpan(nwrittenPtr, 4, out _)) return WasiErrno.Fault;
        if (at < 0) return WasiErrno.Inval;
        if (!f.CanWrite) return WasiErrno.BadF;
        long total = 0;
        if (f.Kind is WasiFdKind.Stdout or WasiFdKind.Stderr)
        {
            if (at is not null) return WasiErrno.SPipe;
            foreach (var (ptr, len) in list)
            {
                int n = (int)Math.Min(len, WasiContext.MaxIoBytes - total);
                if (n <= 0) { if (total >= WasiContext.MaxIoBytes) break; continue; } // empty iovecs are skipped, not an end
                mem.TrySpan(ptr, n, out var src);
                cx.Output(fd, src);
                total += n;
            }
        }
        else if (f.Kind == WasiFdKind.File)
        {
            long pos;
            if (at is { } p) pos = p;
            else if (f.Append)
            {
                var s = cx.Stat(f, out var st);
                if (s != WasiErrno.Success) return s;
                pos = st.Length;
            }
            else pos = f.Position;
            foreach (var (ptr, len) in list)
            {
                int n = (int)Math.Min(len, WasiContext.MaxIoBytes - total);
                if (n <= 0) { if (total >= WasiContext.MaxIoBytes) break; continue; } // empty iovecs are skipped, not an end
                // Copied out: the kernel must see exactly the bytes it checked, and the VFS takes ReadOnlyMemory.
                mem.TrySpan(ptr, n, out var src);
                var bytes = src.ToArray();
                var r = WasiContext.Wait(cx.Files!.WriteAsync(cx.Process, f.Handle, pos, bytes));
                if (!r.IsOk) { if (total > 0) break; return WasiErrors.From(r.Code); }
                pos += n;
                total += n;
            }
            if (at is null) f.Position = pos;
        }
        else return f.Kind == WasiFdKind.Directory ? WasiErrno.IsDir : WasiErrno.BadF;
        cx.ChargeIo(total);
        mem.TryWriteU32(nwrittenPtr, (uint)total);
        return WasiErrno.Success;
    }

    public static WasiErrno Seek(WasiContext cx, Caller c, int fd, long offset, int whence, int newOffsetPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (!mem.TrySpan(newOffsetPtr, 8, out _)) return WasiErrno.Fault;
        if (f.Kind is WasiFdKind.Stdin or WasiFdKind.Stdout or WasiFdKind.Stderr) return WasiErrno.SPipe;
        if (f.Kind != WasiFdKind.File) return WasiErrno.BadF;
        long basePos;
        switch (whence)
        {
            case 0: basePos = 0; break;
            case 1: basePos = f.Position; break;
            case 2:
                var s = cx.Stat(f, out var st);
                if (s != WasiErrno.Success) return s;
                basePos = st.Length;
                break;
            default: return WasiErrno.Inval;
        }
        if (offset > 0 && basePos > long.MaxValue - offset) return WasiErrno.Overflow;
        long to = basePos + offset;
        if (to < 0) return WasiErrno.Inval;
        f.Position = to;
        mem.TryWriteU64(newOffsetPtr, (ulong)to);
        return WasiErrno.Success;
    }

    public static WasiErrno Tell(WasiContext cx, Caller c, int fd, int offsetPtr) => Seek(cx, c, fd, 0, 1, offsetPtr);

    public static WasiErrno Close(WasiContext cx, int fd)
    {
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        cx.Fds.Remove(fd);
        if (f.Handle != Photon.Kernel.Processes.Handle.Invalid && cx.Files is not null) cx.Files.Close(cx.Process, f.Handle);
        return WasiErrno.Success;
    }

    public static WasiErrno FdstatGet(WasiContext cx, Caller c, int fd, int statPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (!mem.TrySpan(statPtr, 24, out var s)) return WasiErrno.Fault;
        s.Clear();
        byte type = f.Kind switch { WasiFdKind.Directory => TypeDirectory, WasiFdKind.File => TypeRegular, _ => TypeCharDevice };
        ulong rights = f.Kind == WasiFdKind.Directory ? AllRights
            : (f.CanRead ? AllRights & ~RightFdWrite : 0) | (f.CanWrite ? AllRights & ~RightFdRead : 0);
        mem.TryWriteU8(statPtr, type);
        mem.TryWriteU16(statPtr + 2, f.Append ? FdflagAppend : (ushort)0);
        mem.TryWriteU64(statPtr + 8, rights);
        mem.TryWriteU64(statPtr + 16, AllRights);
        return WasiErrno.Success;
    }

    public static WasiErrno FdstatSetFlags(WasiContext cx, int fd, int flags)
    {
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if ((flags & ~(FdflagAppend | FdflagNonblock)) != 0) return WasiErrno.NotSup; // dsync, rsync, sync
        if (f.Kind != WasiFdKind.File) return flags == 0 ? WasiErrno.Success : WasiErrno.BadF;
        f.Append = (flags & FdflagAppend) != 0;
        return WasiErrno.Success;
    }

    public static WasiErrno FilestatGet(WasiContext cx, Caller c, int fd, int bufPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (!mem.TrySpan(bufPtr, 64, out _)) return WasiErrno.Fault;
        if (f.Kind is WasiFdKind.Stdin or WasiFdKind.Stdout or WasiFdKind.Stderr)
            return WriteFilestat(mem, bufPtr, TypeCharDevice, 0, default);
        var s = cx.Stat(f, out var st);
        if (s != WasiErrno.Success) return s;
        return WriteFilestat(mem, bufPtr, FileType(st.Kind), st.Length, st.Modified);
    }

    public static WasiErrno FilestatSetSize(WasiContext cx, int fd, long size)
    {
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (f.Kind != WasiFdKind.File) return WasiErrno.BadF;
        if (size < 0) return WasiErrno.Inval;
        var r = WasiContext.Wait(cx.Files!.TruncateAsync(cx.Process, f.Handle, size));
        return WasiErrors.From(r.Code);
    }

    /// <summary>filestat: dev u64, ino u64, filetype u8, nlink u64, size u64, atim, mtim, ctim u64 (64 bytes).</summary>
    public static WasiErrno WriteFilestat(WasiMemory mem, int ptr, byte type, long size, DateTimeOffset modified)
    {
        if (!mem.TrySpan(ptr, 64, out var s)) return WasiErrno.Fault;
        s.Clear();
        ulong ns = modified == default ? 0 : (ulong)Math.Max(0, (modified - DateTimeOffset.UnixEpoch).Ticks) * 100;
        mem.TryWriteU8(ptr + 16, type);
        mem.TryWriteU64(ptr + 24, 1);
        mem.TryWriteU64(ptr + 32, (ulong)Math.Max(0, size));
        mem.TryWriteU64(ptr + 40, ns);
        mem.TryWriteU64(ptr + 48, ns);
        mem.TryWriteU64(ptr + 56, ns);
        return WasiErrno.Success;
    }

    public static WasiErrno Sync(WasiContext cx, int fd)
    {
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (f.Kind != WasiFdKind.File || !f.CanWrite) return WasiErrno.Success; // nothing of the guest's to write back
        return WasiErrors.From(WasiContext.Wait(cx.Files!.FlushAsync(cx.Process, f.Handle)).Code);
    }

    public static WasiErrno PrestatGet(WasiContext cx, Caller c, int fd, int bufPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f) || f.PreopenName is null) return WasiErrno.BadF;
        if (!mem.TrySpan(bufPtr, 8, out var s)) return WasiErrno.Fault;
        s.Clear();
        mem.TryWriteU32(bufPtr + 4, (uint)System.Text.Encoding.UTF8.GetByteCount(f.PreopenName));
        return WasiErrno.Success;
    }

    public static WasiErrno PrestatDirName(WasiContext cx, Caller c, int fd, int pathPtr, int pathLen)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f) || f.PreopenName is null) return WasiErrno.BadF;
        var name = System.Text.Encoding.UTF8.GetBytes(f.PreopenName);
        if (pathLen < name.Length) return WasiErrno.NameTooLong;
        if (!mem.TrySpan(pathPtr, name.Length, out var s)) return WasiErrno.Fault;
        name.CopyTo(s);
        return WasiErrno.Success;
    }

    /// <summary>
    /// Directory entries from <paramref name="cookie"/> on, each a 24-byte dirent (d_next u64, d_ino u64, d_namlen
    /// u32, d_type u8) and its name, packed into the buffer; the last one may be cut off, which tells the caller
    /// (buf_used == buf_len) to come back with a bigger buffer. The cookie is the entry's index.
    /// </summary>
    public static WasiErrno Readdir(WasiContext cx, Caller c, int fd, int bufPtr, int bufLen, long cookie, int usedPtr)
    {
        var mem = new WasiMemory(c);
        if (!cx.Fds.TryGet(fd, out var f)) return WasiErrno.BadF;
        if (f.Kind != WasiFdKind.Directory) return WasiErrno.NotDir;
        if (!mem.TrySpan(bufPtr, (uint)bufLen, out var buf)) return WasiErrno.Fault;
        if (!mem.TrySpan(usedPtr, 4, out _)) return WasiErrno.Fault;
        if (cookie < 0) return WasiErrno.Inval;
        var list = WasiContext.Wait(cx.Files!.ReadDirectoryAsync(cx.Process, f.Path));
        if (!list.IsOk) return WasiErrors.From(list.Code);
        var entries = list.Value;
        // The listing is work done for the guest whatever part of it fits: charge all of it (a zero-length buffer
        // must not make full listings free).
        long listed = 0;
        foreach (var e in entries) listed += 24 + e.Name.Length;
        cx.ChargeIo(listed);
        int used = 0;
        Span<byte> head = stackalloc byte[24];
        for (long i = cookie; i < entries.Count && used < buf.Length; i++)
        {
            var e = entries[(int)i];
            var name = System.Text.Encoding.UTF8.GetBytes(e.Name);
            head.Clear();
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(head, (ulong)(i + 1));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(head[8..], (ulong)(i + 1));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(head[16..], (uint)name.Length);
            head[20] = FileType(e.Kind);
            used += CopyPart(head, buf[used..]);
            used += CopyPart(name, buf[used..]);
        }
        mem.TryWriteU32(usedPtr, (uint)used);
        return WasiErrno.Success;
    }

    private static int CopyPart(ReadOnlySpan<byte> src, Span<byte> dst)
    {
        int n = Math.Min(src.Length, dst.Length);
        src[..n].CopyTo(dst);
        return n;
    }
}
