using System.Security.Cryptography;
using System.Text;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>Thrown by <c>proc_exit</c> to unwind the guest; the instance catches it and stops only that guest.</summary>
internal sealed class WasiExitException(int code) : Exception($"the guest exited with {code}")
{
    public int Code { get; } = code;
}

/// <summary>Arguments, environment, clocks, randomness, yield and exit.</summary>
internal static class WasiProcessCalls
{
    private const int ClockRealtime = 0, ClockMonotonic = 1, ClockProcessCpu = 2, ClockThreadCpu = 3;

    public static WasiErrno SizesGet(Caller c, IReadOnlyList<string> items, int countPtr, int sizePtr)
    {
        var mem = new WasiMemory(c);
        if (!mem.TrySpan(countPtr, 4, out _) || !mem.TrySpan(sizePtr, 4, out _)) return WasiErrno.Fault;
        mem.TryWriteU32(countPtr, (uint)items.Count);
        mem.TryWriteU32(sizePtr, (uint)items.Sum(s => Encoding.UTF8.GetByteCount(s) + 1));
        return WasiErrno.Success;
    }

    /// <summary>Writes the pointer array and the NUL-terminated strings; both ranges are checked before either is written.</summary>
    public static WasiErrno Get(Caller c, IReadOnlyList<string> items, int ptrsPtr, int bufPtr)
    {
        var mem = new WasiMemory(c);
        var bytes = items.Select(s => Encoding.UTF8.GetBytes(s + "\0")).ToArray();
        long total = bytes.Sum(b => (long)b.Length);
        if (!mem.TrySpan(ptrsPtr, items.Count * 4L, out _) || !mem.TrySpan(bufPtr, total, out var buf)) return WasiErrno.Fault;
        int at = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            mem.TryWriteU32(ptrsPtr + i * 4, (uint)bufPtr + (uint)at);
            bytes[i].CopyTo(buf[at..]);
            at += bytes[i].Length;
        }
        return WasiErrno.Success;
    }

    public static IReadOnlyList<string> EnvStrings(WasiOptions o) => o.Environment.Select(kv => $"{kv.Key}={kv.Value}").ToArray();

    public static WasiErrno ClockResGet(Caller c, int id, int resPtr)
    {
        if (id is < ClockRealtime or > ClockThreadCpu) return WasiErrno.Inval;
        return new WasiMemory(c).TryWriteU64(resPtr, 1_000) ? WasiErrno.Success : WasiErrno.Fault;
    }

    public static WasiErrno ClockTimeGet(WasiContext cx, Caller c, int id, int timePtr)
    {
        if (!Now(cx, id, out var ns)) return WasiErrno.Inval;
        return new WasiMemory(c).TryWriteU64(timePtr, ns) ? WasiErrno.Success : WasiErrno.Fault;
    }

    /// <summary>Realtime is the kernel's wall clock; the others its monotonic clock (a guest has one thread and no
    /// separate CPU accounting, so its CPU clocks are monotonic time since boot).</summary>
    public static bool Now(WasiContext cx, int id, out ulong ns)
    {
        ns = 0;
        switch (id)
        {
            case ClockRealtime: ns = (ulong)Math.Max(0, (cx.WallClock() - DateTimeOffset.UnixEpoch).Ticks) * 100; return true;
            case ClockMonotonic or ClockProcessCpu or ClockThreadCpu: ns = (ulong)cx.Monotonic().Ticks * 100; return true;
            default: return false;
        }
    }

    /// <summary>Fills at most <see cref="WasiContext.MaxIoBytes"/> per call from the host CSPRNG (charged as I/O).</summary>
    public static WasiErrno RandomGet(WasiContext cx, Caller c, int bufPtr, int len)
    {
        if (len < 0 || len > WasiContext.MaxIoBytes) return WasiErrno.Inval;
        if (!new WasiMemory(c).TrySpan(bufPtr, len, out var span)) return WasiErrno.Fault;
        RandomNumberGenerator.Fill(span);
        cx.ChargeIo(len);
        return WasiErrno.Success;
    }
}
