using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>
/// The kernel's event tracer, in the manner of Linux ftrace: off by default, and then every trace point costs one read
/// of a static volatile bool (<c>if (KernelTrace.Enabled) …</c> at the site). When on, each thread writes fixed-size
/// records into its own ring (<see cref="TraceRing"/>; one per CPU worker, plus one per host thread that completes
/// I/O), so recording takes no lock and shares no cache line; a full ring drops its oldest records and counts them.
/// One session per host process at a time (the trace points are static, like the CPU's own tracing hardware);
/// processes start and stop it through <see cref="Syscalls.TraceSyscalls"/>.
/// </summary>
public static class KernelTrace
{
    /// <summary>Records per thread by default (48 bytes each: about 1.5 MiB per thread).</summary>
    public const int DefaultRecordsPerThread = 32 * 1024;
    public const int MinRecordsPerThread = 16;
    public const int MaxRecordsPerThread = 1 << 22;
    /// <summary>At most this many threads get a ring in one session; later threads' events are counted as dropped
    /// (bounds the memory a flood of host threads could make the tracer use).</summary>
    public const int MaxThreads = 256;

    private static volatile bool s_enabled;
    private static readonly Lock s_lock = new();
    private static Session? s_session;
    private static long s_unattributed;

    [ThreadStatic] private static TraceRing? t_ring;
    [ThreadStatic] private static Session? t_ringSession;

    private sealed class Session(int recordsPerThread)
    {
        public readonly int RecordsPerThread = recordsPerThread;
        public readonly long Start = Stopwatch.GetTimestamp();
        public readonly List<TraceRing> Rings = new();
    }

    /// <summary>True while a session records. The one check every trace point makes.</summary>
    public static bool Enabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_enabled;
    }

    /// <summary>Timestamp source of every record (<see cref="Stopwatch"/> ticks).</summary>
    public static long Now => Stopwatch.GetTimestamp();

    /// <summary>Starts recording. Fails with <see cref="ErrorCode.Busy"/> while another session runs.</summary>
    internal static Result Start(int recordsPerThread = DefaultRecordsPerThread)
    {
        if (recordsPerThread is < MinRecordsPerThread or > MaxRecordsPerThread)
            return Result.Fail(ErrorCode.InvalidArgument, $"records per thread must be {MinRecordsPerThread}..{MaxRecordsPerThread}, got {recordsPerThread}");
        lock (s_lock)
        {
            if (s_session is not null) return Result.Fail(ErrorCode.Busy, "a trace session is already recording");
            s_session = new Session(recordsPerThread);
            Interlocked.Exchange(ref s_unattributed, 0);
            s_enabled = true;
        }
        return Result.Ok;
    }

    /// <summary>Stops recording and returns what the rings hold. Fails with <see cref="ErrorCode.NotFound"/> when
    /// nothing records.</summary>
    internal static Result<TraceCapture> Stop()
    {
        Session session;
        lock (s_lock)
        {
            if (s_session is null) return Errors.Of(ErrorCode.NotFound, "no trace session is recording");
            session = s_session;
            s_enabled = false;
            s_session = null;
        }
        long stop = Stopwatch.GetTimestamp();
        TraceRing[] rings;
        lock (session.Rings) rings = session.Rings.ToArray();
        var threads = rings.Select(r => new ThreadTrace(r.ThreadId, r.ThreadName, r.Snapshot(), r.Dropped)).ToList();
        long lost = Interlocked.Read(ref s_unattributed);
        if (lost > 0) threads.Add(new ThreadTrace(0, "(threads beyond the ring limit)", [], lost));
        return new TraceCapture(threads, session.Start, stop);
    }

    /// <summary>True while a session records (for a status report; trace points read <see cref="Enabled"/>).</summary>
    internal static bool IsRecording { get { lock (s_lock) return s_session is not null; } }

    internal static void Instant(TracePoint point, long a0 = 0, long a1 = 0, string? label = null) =>
        Write(new TraceRecord(Stopwatch.GetTimestamp(), 0, a0, a1, label, point, TracePhase.Instant));

    internal static void Begin(TracePoint point, long a0 = 0, long a1 = 0, string? label = null) =>
        Write(new TraceRecord(Stopwatch.GetTimestamp(), 0, a0, a1, label, point, TracePhase.Begin));

    internal static void End(TracePoint point, long a0 = 0, long a1 = 0, string? label = null) =>
        Write(new TraceRecord(Stopwatch.GetTimestamp(), 0, a0, a1, label, point, TracePhase.End));

    /// <summary>A span that began at <paramref name="startTimestamp"/> (from <see cref="Now"/>) and ends now.</summary>
    internal static void Complete(TracePoint point, long startTimestamp, long a0 = 0, long a1 = 0, string? label = null)
    {
        long now = Stopwatch.GetTimestamp();
        Write(new TraceRecord(startTimestamp, now - startTimestamp, a0, a1, label, point, TracePhase.Complete));
    }

    private static void Write(in TraceRecord record)
    {
        var ring = t_ring;
        if (ring is null || t_ringSession != s_session) ring = AttachRing();
        ring?.Write(in record);
    }

    private static TraceRing? AttachRing()
    {
        var session = s_session;
        if (session is null) return null; // stopped between the caller's check and here
        var thread = Environment.CurrentManagedThreadId;
        TraceRing ring;
        lock (session.Rings)
        {
            if (session.Rings.Count >= MaxThreads)
            {
                Interlocked.Increment(ref s_unattributed);
                return null;
            }
            // Named by the kernel CPU it serves (host thread names are the HAL's business, not the kernel's).
            var name = Scheduling.KernelScheduler.CurrentWorker is { } cpu ? $"cpu {cpu.Index}" : $"thread {thread}";
            ring = new TraceRing(session.RecordsPerThread, thread, name);
            session.Rings.Add(ring);
        }
        t_ring = ring;
        t_ringSession = session;
        return ring;
    }
}
