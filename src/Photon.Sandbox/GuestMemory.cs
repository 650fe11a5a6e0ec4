using Wasmtime;

namespace Photon.Sandbox;

/// <summary>
/// Bounds-checked access to a calling guest's linear memory. Wasm pointers are unsigned 32-bit, so a pointer is read as
/// <c>uint</c> (a guest with more than 2 GiB may use the upper half); a length is a signed <c>int</c> that must not be
/// negative (a span cannot be longer). The range is checked in 64-bit arithmetic, so <c>ptr + len</c> cannot wrap.
/// </summary>
internal static class GuestMemory
{
    public static bool TryGetSpan(Caller caller, int ptr, int len, out Span<byte> span)
    {
        span = default;
        if (len < 0) return false;
        var mem = caller.GetMemory("memory");
        if (mem is null) return false;
        long start = (uint)ptr;
        if (start + len > mem.GetLength()) return false;
        span = mem.GetSpan(start, len);
        return true;
    }

    /// <summary>Copies guest bytes out, so later guest writes cannot change what the kernel checked.</summary>
    public static bool TryCopy(Caller caller, int ptr, int len, out byte[] bytes)
    {
        if (!TryGetSpan(caller, ptr, len, out var span)) { bytes = []; return false; }
        bytes = span.ToArray();
        return true;
    }
}
