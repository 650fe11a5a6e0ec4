using System.Buffers.Binary;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// Bounds-checked little-endian access to the calling guest's memory for WASI's structures (iovecs, stats, dirents).
/// Pointers are unsigned 32-bit, lengths are checked in 64-bit arithmetic so nothing wraps; every method answers
/// false rather than touching memory outside the guest's.
/// </summary>
internal readonly struct WasiMemory
{
    /// <summary>IOV_MAX: more buffers than this in one call is EINVAL, as on Linux.</summary>
    public const int MaxIovecs = 1024;

    private readonly Wasmtime.Memory? _memory;

    public WasiMemory(Caller caller) => _memory = caller.GetMemory("memory");

    public bool TrySpan(int ptr, long len, out Span<byte> span)
    {
        span = default;
        if (_memory is null || len < 0 || len > int.MaxValue) return false;
        long start = (uint)ptr;
        if (start + len > _memory.GetLength()) return false;
        span = _memory.GetSpan(start, (int)len);
        return true;
    }

    public bool TryWriteU8(int ptr, byte v) { if (!TrySpan(ptr, 1, out var s)) return false; s[0] = v; return true; }
    public bool TryWriteU16(int ptr, ushort v) { if (!TrySpan(ptr, 2, out var s)) return false; BinaryPrimitives.WriteUInt16LittleEndian(s, v); return true; }
    public bool TryWriteU32(int ptr, uint v) { if (!TrySpan(ptr, 4, out var s)) return false; BinaryPrimitives.WriteUInt32LittleEndian(s, v); return true; }
    public bool TryWriteU64(int ptr, ulong v) { if (!TrySpan(ptr, 8, out var s)) return false; BinaryPrimitives.WriteUInt64LittleEndian(s, v); return true; }

    public bool TryReadU32(int ptr, out uint v)
    {
        v = 0;
        if (!TrySpan(ptr, 4, out var s)) return false;
        v = BinaryPrimitives.ReadUInt32LittleEndian(s);
        return true;
    }

    /// <summary>Reads and checks an iovec array: each (buf, len) pair must lie inside guest memory. The list is
    /// copied out first, so the guest cannot change it between the check and the transfer.</summary>
    public WasiErrno TryReadIovecs(int ptr, int count, out (int Ptr, int Len)[] iovecs)
    {
        iovecs = [];
        if (count < 0 || count > MaxIovecs) return WasiErrno.Inval;
        if (!TrySpan(ptr, (long)count * 8, out var raw)) return WasiErrno.Fault;
        var list = new (int, int)[count];
        for (int i = 0; i < count; i++)
        {
            uint buf = BinaryPrimitives.ReadUInt32LittleEndian(raw[(i * 8)..]);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(raw[(i * 8 + 4)..]);
            if (len > int.MaxValue || !TrySpan((int)buf, len, out _)) return WasiErrno.Fault;
            list[i] = ((int)buf, (int)len);
        }
        iovecs = list;
        return WasiErrno.Success;
    }

    /// <summary>Copies a guest string out (UTF-8, no NUL inside).</summary>
    public WasiErrno TryReadPath(int ptr, int len, out string path)
    {
        path = "";
        if (len < 0 || len > WasiPaths.MaxPathBytes) return WasiErrno.NameTooLong;
        if (!TrySpan(ptr, len, out var s)) return WasiErrno.Fault;
        if (s.Contains((byte)0)) return WasiErrno.Ilseq;
        try { path = new System.Text.UTF8Encoding(false, true).GetString(s); }
        catch (ArgumentException) { return WasiErrno.Ilseq; }
        return WasiErrno.Success;
    }
}
