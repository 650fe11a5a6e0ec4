namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>
/// A fixed-size ring of trace records with one writer (the thread it belongs to). When full it overwrites the oldest
/// record and counts it as dropped, so tracing never allocates or blocks after the ring exists.
/// </summary>
public sealed class TraceRing
{
    private readonly TraceRecord[] _records;
    private readonly int _mask;
    private long _written;

    /// <param name="capacity">Records kept; rounded up to a power of two.</param>
    public TraceRing(int capacity, int threadId, string threadName)
    {
        if (capacity < 1) throw new ArgumentOutOfRangeException(nameof(capacity));
        _records = new TraceRecord[(int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)capacity)];
        _mask = _records.Length - 1;
        ThreadId = threadId;
        ThreadName = threadName;
    }

    public int ThreadId { get; }
    public string ThreadName { get; }
    public int Capacity => _records.Length;

    /// <summary>Records ever written to this ring.</summary>
    public long Written => Volatile.Read(ref _written);

    /// <summary>Records overwritten before anyone read them.</summary>
    public long Dropped => Math.Max(0, Written - _records.Length);

    public void Write(in TraceRecord record)
    {
        long n = _written;
        _records[(int)(n & _mask)] = record;
        Volatile.Write(ref _written, n + 1);
    }

    /// <summary>The records still held, oldest first. Meant for after the session stopped: a record its owner writes
    /// meanwhile may be missing or replace the oldest one.</summary>
    public TraceRecord[] Snapshot()
    {
        long n = Written;
        int count = (int)Math.Min(n, _records.Length);
        var copy = new TraceRecord[count];
        for (int i = 0; i < count; i++) copy[i] = _records[(int)((n - count + i) & _mask)];
        return copy;
    }
}
