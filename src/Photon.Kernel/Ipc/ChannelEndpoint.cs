using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Ipc;

/// <summary>How a handle travels in a message.</summary>
public enum TransferMode
{
    /// <summary>The capability itself moves: it leaves the sender's handle table (needs Transfer).</summary>
    Move,
    /// <summary>The receiver gets a capability derived with at most the given rights (needs Delegate); the sender keeps
    /// its own and can revoke the receiver's later — how a memory region is lent for zero-copy transfer.</summary>
    Derive,
}

/// <summary>One handle to send: which, how, and (for Derive) with which rights.</summary>
public readonly record struct HandleTransfer(Processes.Handle Handle, TransferMode Mode, Rights Rights = Rights.None);

/// <summary>A message in flight: bytes plus capabilities the kernel holds on the receiver's behalf.</summary>
internal sealed record IpcEnvelope(byte[] Data, CapabilityToken[] Capabilities);

/// <summary>What a receiver gets: the bytes and the handles now in its table.</summary>
public sealed record IpcMessage(byte[] Data, IReadOnlyList<Processes.Handle> Handles);

/// <summary>
/// One end of a channel. Holds the messages sent to it (bounded: the queue depth is the back-pressure point) and the
/// waiters of ports watching it. A channel endpoint is a kernel object reached only through capabilities: Write to send
/// (on the peer), Read to receive.
/// </summary>
public sealed class ChannelEndpoint : KernelObject
{
    internal readonly Queue<IpcEnvelope> Inbox = new();
    internal readonly List<TaskCompletionSource> Readable = new();
    internal readonly List<TaskCompletionSource> Writable = new();
    internal readonly Lock Gate = new();

    internal ChannelEndpoint(string label, int depth, CapabilityToken via) : base(ObjectKind.Channel, label)
    {
        Depth = depth;
        Via = via;
    }

    public int Depth { get; }
    public ChannelEndpoint? Peer { get; internal set; }
    public bool IsClosed { get; internal set; }
    public int Pending { get { lock (Gate) return Inbox.Count; } }

    /// <summary>The namespace binding this connection was opened through (None for direct channels). When it is
    /// revoked — the bridge between tenants is taken down — the connection closes.</summary>
    internal CapabilityToken Via { get; }

    /// <summary>Set by the IPC manager so the last revocation closes the channel (peers see Closed).</summary>
    internal Action<ChannelEndpoint>? OnDestroyed { get; set; }

    protected override void OnLastCapabilityRevoked() => OnDestroyed?.Invoke(this);
}

/// <summary>A named place clients connect to: bound into a namespace, reachable only by those who can resolve it.</summary>
public sealed class IpcListener : KernelObject
{
    internal readonly Queue<(ChannelEndpoint ServerEnd, Capabilities.Principal Client)> Backlog = new();
    internal readonly List<TaskCompletionSource> Waiters = new();
    internal readonly Lock Gate = new();

    internal IpcListener(string label, int backlog) : base(ObjectKind.Port, label) => BacklogLimit = backlog;

    public int BacklogLimit { get; }
    public bool IsClosed { get; internal set; }
    protected override void OnLastCapabilityRevoked() { lock (Gate) IsClosed = true; }
}
