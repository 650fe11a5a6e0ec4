using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Audit;

public enum AuditAction { Create, Derive, Delegate, Transfer, Revoke, Denied }

/// <summary>One security-relevant capability event. <see cref="Subject"/> names who acted (process or module).</summary>
public sealed record CapabilityAuditEvent(
    AuditAction Action,
    DateTimeOffset Time,
    string Subject,
    string Namespace,
    CapabilityToken Token,
    CapabilityToken Parent,
    ObjectKind ObjectKind,
    string ObjectLabel,
    Rights Rights,
    ErrorCode Error,
    string Detail);

/// <summary>Where capability events go. The persistent hash-chained log implements this; the default drops nothing
/// because it keeps nothing.</summary>
public interface ICapabilityAuditSink
{
    void Record(CapabilityAuditEvent e);
}

/// <summary>Keeps recent events in memory (used by the demo and tests; bounded so it cannot grow without limit).</summary>
public sealed class InMemoryAuditSink(int capacity = 100_000) : ICapabilityAuditSink
{
    private readonly Queue<CapabilityAuditEvent> _events = new();
    private readonly Lock _lock = new();

    public long TotalRecorded { get; private set; }

    public void Record(CapabilityAuditEvent e)
    {
        lock (_lock)
        {
            TotalRecorded++;
            if (_events.Count == capacity) _events.Dequeue();
            _events.Enqueue(e);
        }
    }

    public IReadOnlyList<CapabilityAuditEvent> Snapshot()
    {
        lock (_lock) return _events.ToArray();
    }
}

/// <summary>Sends every event to several sinks (memory for reports, the persistent log for the record).</summary>
public sealed class TeeAuditSink(IReadOnlyList<ICapabilityAuditSink> sinks) : ICapabilityAuditSink
{
    public void Record(CapabilityAuditEvent e)
    {
        foreach (var s in sinks) s.Record(e);
    }
}
