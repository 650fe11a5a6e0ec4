using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Ipc;

/// <summary>
/// A named place clients connect to: bound into a namespace, reachable only by those who can resolve it. Owns its
/// backlog of not-yet-accepted connections (each a server-end capability the kernel holds) and its waiters. When its
/// last capability dies the backlog's server ends are revoked, so clients see their connections close and nothing
/// stays charged to them.
/// </summary>
public sealed class IpcListener : KernelObject
{
    public override ObjectKind Kind => ObjectKind.IpcListener;

    private readonly Lock _gate = new();
    private readonly Queue<(CapabilityToken ServerEnd, Principal Client)> _backlog = new();
    private readonly WaiterSet _waiters = new();
    private bool _closed;

    internal IpcListener(string label, int backlog) : base(label) => BacklogLimit = backlog;

    public int BacklogLimit { get; }
    public bool IsClosed { get { lock (_gate) return _closed; } }
    public int Backlog { get { lock (_gate) return _backlog.Count; } }
    public int Waiters { get { lock (_gate) return _waiters.Count; } }

    /// <summary>Set by the IPC manager: revokes the server ends left in the backlog when the listener dies.</summary>
    internal Action<IReadOnlyList<CapabilityToken>>? OnClosed { get; set; }

    internal Result Enqueue(CapabilityToken serverEnd, Principal client)
    {
        lock (_gate)
        {
            if (_closed) return Result.Fail(ErrorCode.ConnectionRefused, "listener is closed");
            if (_backlog.Count >= BacklogLimit) return Result.Fail(ErrorCode.ConnectionRefused, "listener backlog is full");
            _backlog.Enqueue((serverEnd, client));
            _waiters.WakeAll();
            return Result.Ok;
        }
    }

    /// <summary>Takes the next connection: WouldBlock when none waits, Closed once the listener is gone.</summary>
    internal Result<(CapabilityToken ServerEnd, Principal Client)> Dequeue()
    {
        lock (_gate)
        {
            if (_backlog.Count > 0) return _backlog.Dequeue();
            return _closed ? Errors.Of(ErrorCode.Closed, "listener is closed") : Errors.Of(ErrorCode.WouldBlock, "no connection");
        }
    }

    internal Task<bool> WaitAsync(CancellationToken ct)
    {
        TaskCompletionSource<bool> tcs;
        lock (_gate)
        {
            if (_backlog.Count > 0 || _closed) return Task.FromResult(true);
            tcs = _waiters.Add();
        }
        return _waiters.WaitAsync(_gate, tcs, ct);
    }

    protected override void OnLastCapabilityRevoked()
    {
        CapabilityToken[] orphans;
        lock (_gate)
        {
            _closed = true;
            orphans = _backlog.Select(b => b.ServerEnd).ToArray();
            _backlog.Clear();
            _waiters.WakeAll();
        }
        if (orphans.Length > 0) OnClosed?.Invoke(orphans);
    }
}
