using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>Steps of the network receive/transmit path that <see cref="NetPathTimeline"/> time-stamps.</summary>
public enum NetPathEvent : byte
{
    /// <summary>An MSI-X vector's eventfd fired on its interrupt line (value = vector).</summary>
    IrqSignal,
    /// <summary>A receive queue went to sleep: interrupts armed and the ring found empty.</summary>
    RxSleep,
    /// <summary>A receive queue's sleep ended (value = 1 when it was woken by an interrupt, 2 by a poll tick, 0 when the
    /// wait returned at once because a signal was already pending).</summary>
    RxWake,
    /// <summary>Frames taken off a receive ring in one pass (value = frames).</summary>
    RxTake,
    /// <summary>The stack's receive loop got a burst (value = frames) …</summary>
    StackBatch,
    /// <summary>… and finished it: parsed, answered and flushed to the driver.</summary>
    StackDone,
    /// <summary>The stack's periodic protocol tick ran.</summary>
    Tick,
    /// <summary>An ACK moved SND.UNA (value = bytes acknowledged).</summary>
    TcpAckIn,
    /// <summary>We sent a pure ACK (value = 1 from the tick's delayed-ACK path, 0 right away, 2 as a window update after
    /// the application read).</summary>
    TcpAckOut,
    /// <summary>Output stopped with data queued (value = 1 congestion window full, 2 peer's window full) or with nothing
    /// left to send (value = 0: application-limited).</summary>
    TcpOutputStop,
    /// <summary>The application queued bytes to send (value = bytes taken into the send buffer).</summary>
    AppSend,
    /// <summary>The application read bytes (value = bytes).</summary>
    AppReceive,
    /// <summary>A transmit publish on a virtqueue (value = 1 when it kicked the device).</summary>
    TxPublish,
    /// <summary>A send parked for room (value = bytes it still holds).</summary>
    AppSendPark,
    /// <summary>The stack took bytes from a parked send into the send buffer on an ACK (value = bytes), without waking it.</summary>
    AppSendTaken,
    /// <summary>A parked send's wake (value = 1: the stack woke it, all its bytes queued; 2: the woken writer runs).</summary>
    AppSendWake,
    /// <summary>The send buffer adopted larger storage allocated outside the lock (value = its size in KiB).</summary>
    SendStorageGrown,
}

/// <summary>
/// A time-stamped record of the network path's steps — interrupt, wake, ring pass, stack burst, tick, ACKs — off by
/// default (one static bool per site), for finding what paces a transfer (issue #17: is the receive path driven by
/// the MSI-X interrupt or by a timer?). Records go into one bounded ring (the oldest overwritten); <see cref="Summary"/>
/// turns them into counts, gap histograms and interrupt-to-wake latencies that the VM prints on its console.
/// </summary>
public static class NetPathTimeline
{
    private const int Capacity = 1 << 18;
    private static volatile bool s_enabled;
    private static readonly long[] s_ticks = new long[Capacity];
    private static readonly int[] s_values = new int[Capacity];
    private static readonly byte[] s_kinds = new byte[Capacity];
    private static long s_next;

    public static bool Enabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_enabled;
    }

    public static void Start()
    {
        Interlocked.Exchange(ref s_next, 0);
        NetPathCosts.Reset();
        s_enabled = true;
    }

    public static void Stop() => s_enabled = false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Mark(NetPathEvent e, int value = 0)
    {
        if (!s_enabled) return;
        long i = Interlocked.Increment(ref s_next) - 1;
        int at = (int)(i & (Capacity - 1));
        s_kinds[at] = (byte)e;
        s_values[at] = value;
        Volatile.Write(ref s_ticks[at], Stopwatch.GetTimestamp());
    }

    private readonly record struct Rec(long Ticks, NetPathEvent Kind, int Value);

    private static List<Rec> Snapshot()
    {
        long n = Interlocked.Read(ref s_next);
        long first = Math.Max(0, n - Capacity);
        var list = new List<Rec>((int)(n - first));
        for (long i = first; i < n; i++)
        {
            int at = (int)(i & (Capacity - 1));
            list.Add(new Rec(Volatile.Read(ref s_ticks[at]), (NetPathEvent)s_kinds[at], s_values[at]));
        }
        list.Sort((a, b) => a.Ticks.CompareTo(b.Ticks));
        return list;
    }

    private static double Us(long ticks) => ticks * 1e6 / Stopwatch.Frequency;

    private static readonly double[] Bounds = [100, 1_000, 4_000, 10_000, 20_000, 50_000, 200_000];

    private static string Histogram(IEnumerable<double> microseconds)
    {
        var counts = new int[Bounds.Length + 1];
        var all = microseconds.ToList();
        foreach (var v in all)
        {
            int b = 0;
            while (b < Bounds.Length && v >= Bounds[b]) b++;
            counts[b]++;
        }
        if (all.Count == 0) return "none";
        all.Sort();
        var parts = new List<string>();
        for (int b = 0; b < counts.Length; b++)
        {
            if (counts[b] == 0) continue;
            string lo = b == 0 ? "0" : Label(Bounds[b - 1]), hi = b == Bounds.Length ? "inf" : Label(Bounds[b]);
            parts.Add($"{lo}-{hi}:{counts[b]}");
        }
        return $"n={all.Count} median {Label(all[all.Count / 2])} p90 {Label(all[(int)(all.Count * 0.9)])} [{string.Join(" ", parts)}]";
    }

    private static string Label(double us) => us >= 1000 ? $"{us / 1000:0.#}ms" : $"{us:0}us";

    /// <summary>Counts, gap histograms and latencies of what was recorded (only the busy part: from the first
    /// <see cref="NetPathEvent.StackBatch"/> to the last), then up to <paramref name="rawEvents"/> raw records from the
    /// middle of the busiest second, one line each.</summary>
    public static IReadOnlyList<string> Summary(int rxVector, int rawEvents = 120)
    {
        var recs = Snapshot();
        var lines = new List<string>();
        if (recs.Count == 0) { lines.Add("timeline: nothing recorded"); return lines; }
        long t0 = recs[0].Ticks, t1 = recs[^1].Ticks;
        double seconds = Us(t1 - t0) / 1e6;
        var byKind = recs.GroupBy(r => r.Kind).ToDictionary(g => g.Key, g => g.ToList());
        lines.Add($"timeline: {recs.Count} records over {seconds:0.00} s" + (Interlocked.Read(ref s_next) > Capacity ? " (ring wrapped: the oldest are lost)" : ""));
        foreach (var (kind, list) in byKind.OrderBy(k => k.Key))
        {
            var byValue = string.Join(" ", list.GroupBy(r => r.Value).OrderByDescending(g => g.Count()).Take(4).Select(g => $"v{g.Key}x{g.Count()}"));
            lines.Add($"timeline: {kind} {list.Count} ({list.Count / Math.Max(seconds, 1e-9):0}/s; {byValue}); gaps {Histogram(Gaps(list))}");
        }
        // Interrupt → wake: for each RX wake by an interrupt, the time since the latest signal of the RX vector.
        var lat = new List<double>();
        var wakeToDone = new List<double>();
        var wakeAfterTick = 0;
        var wakes = 0;
        long lastIrq = 0, lastTick = 0, lastWake = 0;
        foreach (var r in recs)
        {
            switch (r.Kind)
            {
                case NetPathEvent.IrqSignal when r.Value == rxVector: lastIrq = r.Ticks; break;
                case NetPathEvent.Tick: lastTick = r.Ticks; break;
                case NetPathEvent.RxWake:
                    wakes++;
                    if (r.Value == 1 && lastIrq != 0) lat.Add(Us(r.Ticks - lastIrq));
                    if (lastTick != 0 && Us(r.Ticks - lastTick) < 1000) wakeAfterTick++;
                    lastWake = r.Ticks;
                    break;
                case NetPathEvent.StackDone when lastWake != 0: wakeToDone.Add(Us(r.Ticks - lastWake)); lastWake = 0; break;
            }
        }
        // The sender's application path (issue #17): how long the stack sat with nothing to send until the next bytes
        // were queued — by the writer itself (AppSend) or taken from a parked send (AppSendTaken) — and how long a parked
        // send's wake (its bytes all queued) took to run.
        var starved = new List<double>();
        var wakeToRun = new List<double>();
        long stoppedEmpty = 0, wakeAsked = 0;
        foreach (var r in recs)
        {
            switch (r.Kind)
            {
                case NetPathEvent.TcpOutputStop when r.Value == 0 && stoppedEmpty == 0: stoppedEmpty = r.Ticks; break;
                case NetPathEvent.AppSend or NetPathEvent.AppSendTaken when stoppedEmpty != 0:
                    starved.Add(Us(r.Ticks - stoppedEmpty));
                    stoppedEmpty = 0;
                    break;
                case NetPathEvent.AppSendWake when r.Value == 1: wakeAsked = r.Ticks; break;
                case NetPathEvent.AppSendWake when r.Value == 2 && wakeAsked != 0: wakeToRun.Add(Us(r.Ticks - wakeAsked)); wakeAsked = 0; break;
            }
        }
        lines.Add($"timeline: output stopped with nothing queued -> next bytes queued {Histogram(starved)}");
        lines.Add($"timeline: parked send's wake asked -> its writer running {Histogram(wakeToRun)}");
        lines.Add($"timeline: rx interrupt signal -> rx wake {Histogram(lat)}");
        lines.Add($"timeline: rx wake -> stack burst done {Histogram(wakeToDone)}");
        lines.Add($"timeline: rx wakes within 1 ms after a stack tick: {wakeAfterTick} of {wakes}");
        // The receive loop's bursts end to end (StackBatch -> StackDone: frames handled under the lock, then flushed).
        var bursts = new List<double>();
        long batchAt = 0;
        foreach (var r in recs)
        {
            if (r.Kind == NetPathEvent.StackBatch) batchAt = r.Ticks;
            else if (r.Kind == NetPathEvent.StackDone && batchAt != 0) { bursts.Add(Us(r.Ticks - batchAt)); batchAt = 0; }
        }
        lines.Add($"timeline: stack burst (batch -> done) total {bursts.Sum() / 1000:0.0} ms, {Histogram(bursts)}");
        // Raw records around the middle of the recording, for reading the sequence itself.
        int mid = recs.Count / 2, from = Math.Max(0, mid - rawEvents / 2);
        for (int i = from; i < Math.Min(recs.Count, from + rawEvents); i++)
        {
            var r = recs[i];
            lines.Add($"timeline raw: +{Us(r.Ticks - recs[from].Ticks) / 1000:0.000} ms {r.Kind} {r.Value}");
        }
        return lines;
    }

    private static IEnumerable<double> Gaps(List<Rec> list)
    {
        for (int i = 1; i < list.Count; i++) yield return Us(list[i].Ticks - list[i - 1].Ticks);
    }
}
