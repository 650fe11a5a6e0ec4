using System.Buffers.Binary;
using Wasmtime;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// <c>poll_oneoff</c> for clocks and descriptors. Files and stdio never block (a read answers at once, even at end of
/// file), so any descriptor subscription is ready now; otherwise the call sleeps until the earliest clock, in slices
/// so that stopping or killing the guest ends the wait.
/// </summary>
internal static class WasiPollCalls
{
    public const int MaxSubscriptions = 1024;
    private const int SubscriptionBytes = 48, EventBytes = 32;
    private const byte TagClock = 0, TagFdRead = 1, TagFdWrite = 2;
    private static readonly TimeSpan Slice = TimeSpan.FromMilliseconds(20);

    public static WasiErrno PollOneoff(WasiContext cx, Caller c, int inPtr, int outPtr, int count, int neventsPtr)
    {
        var mem = new WasiMemory(c);
        if (count <= 0 || count > MaxSubscriptions) return WasiErrno.Inval;
        if (!mem.TrySpan(inPtr, (long)count * SubscriptionBytes, out var raw)) return WasiErrno.Fault;
        if (!mem.TrySpan(outPtr, (long)count * EventBytes, out _) || !mem.TrySpan(neventsPtr, 4, out _)) return WasiErrno.Fault;
        var subs = raw.ToArray(); // decoded from a copy: the guest cannot change what was checked

        var ready = new List<(ulong User, WasiErrno Error, byte Type, ulong Bytes)>();
        ulong? earliest = null;
        var clocks = new List<(ulong User, ulong Deadline)>();
        for (int i = 0; i < count; i++)
        {
            var s = subs.AsSpan(i * SubscriptionBytes, SubscriptionBytes);
            ulong user = BinaryPrimitives.ReadUInt64LittleEndian(s);
            byte tag = s[8];
            switch (tag)
            {
                case TagClock:
                {
                    int id = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[16..]);
                    ulong timeout = BinaryPrimitives.ReadUInt64LittleEndian(s[24..]);
                    bool absolute = (BinaryPrimitives.ReadUInt16LittleEndian(s[40..]) & 1) != 0;
                    if (!WasiProcessCalls.Now(cx, id, out var now)) { ready.Add((user, WasiErrno.Inval, tag, 0)); break; }
                    ulong rel = absolute ? (timeout > now ? timeout - now : 0) : timeout;
                    ulong mono = (ulong)cx.Monotonic().Ticks * 100;
                    ulong deadline = rel > ulong.MaxValue - mono ? ulong.MaxValue : mono + rel;
                    clocks.Add((user, deadline));
                    earliest = earliest is { } e ? Math.Min(e, deadline) : deadline;
                    break;
                }
                case TagFdRead or TagFdWrite:
                {
                    int fd = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[16..]);
                    if (!cx.Fds.TryGet(fd, out var f)) { ready.Add((user, WasiErrno.BadF, tag, 0)); break; }
                    ulong avail = f.Kind == WasiFdKind.Stdin ? (ulong)(cx.Options.Stdin.Length - cx.StdinPosition) : 0;
                    ready.Add((user, WasiErrno.Success, tag, avail));
                    break;
                }
                default: return WasiErrno.Inval;
            }
        }
        if (ready.Count == 0 && earliest is { } until)
        {
            while (cx.Instance.State == WasmInstanceState.Running)
            {
                ulong now = (ulong)cx.Monotonic().Ticks * 100;
                if (now >= until) break;
                var left = TimeSpan.FromTicks((long)Math.Min((until - now) / 100, (ulong)Slice.Ticks));
                cx.Sleep(left);
            }
            ulong after = (ulong)cx.Monotonic().Ticks * 100;
            foreach (var (user, deadline) in clocks) if (deadline <= after) ready.Add((user, WasiErrno.Success, TagClock, 0));
        }
        for (int i = 0; i < ready.Count; i++)
        {
            int at = outPtr + i * EventBytes;
            mem.TrySpan(at, EventBytes, out var ev);
            ev.Clear();
            mem.TryWriteU64(at, ready[i].User);
            mem.TryWriteU16(at + 8, (ushort)ready[i].Error);
            mem.TryWriteU8(at + 10, ready[i].Type);
            if (ready[i].Type != TagClock) mem.TryWriteU64(at + 16, ready[i].Bytes);
        }
        mem.TryWriteU32(neventsPtr, (uint)ready.Count);
        return WasiErrno.Success;
    }
}
