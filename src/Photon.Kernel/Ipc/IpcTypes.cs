using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Ipc;

/// <summary>How a handle travels in a message.</summary>
public enum TransferMode
{
    /// <summary>The capability itself moves: it leaves the sender's handle table and is re-issued under a new token
    /// for the receiver (needs Transfer). A copy of the old token the sender kept is dead.</summary>
    Move,
    /// <summary>The receiver gets a capability derived with at most the given rights (needs Delegate); the sender keeps
    /// its own and can revoke the receiver's later — how a memory region is lent for zero-copy transfer.</summary>
    Derive,
}

/// <summary>One handle to send: which, how, and (for Derive) with which rights.</summary>
public readonly record struct HandleTransfer(Handle Handle, TransferMode Mode, Rights Rights = Rights.None);

/// <summary>
/// What a receiver gets: the bytes and the handles now in its table (Handle.Invalid where a capability was revoked
/// while in flight). Disposing a received message hands it back to the endpoint it came from, for that endpoint's next
/// receive by the same process of a message of the same size — a ping-pong or stream of messages received one by one
/// and disposed allocates nothing per message. Do not touch <see cref="Data"/> after disposing: it may hold the
/// process's next message on that endpoint (never another process's: a kept message is reused only for the process
/// that disposed it). Not disposing is safe: the message is ordinary garbage and holds no quota (its sender's charge
/// was refunded when it was received).
/// </summary>
public sealed record IpcMessage(byte[] Data, IReadOnlyList<Handle> Handles) : IDisposable
{
    /// <summary>Capabilities of the message that did not arrive (revoked in flight, or over the receiver's quota).</summary>
    public int DroppedHandles { get; init; }

    // Set on a byte-only message of at most ChannelEndpoint.KeptMessageBytes that a receive on _home gave _owner: its
    // Dispose offers it back to _home (_lent 1 → 0 once, so a second Dispose of the same lending does nothing).
    private readonly ChannelEndpoint? _home;
    private readonly Process? _owner;
    private int _lent;

    internal IpcMessage(byte[] data, ChannelEndpoint home, Process owner) : this(data, [])
    {
        _home = home;
        _owner = owner;
        _lent = 1;
    }

    // A copy (`with`) shares the bytes but is never handed back: only the message a receive returned is.
    private IpcMessage(IpcMessage original)
    {
        Data = original.Data;
        Handles = original.Handles;
        DroppedHandles = original.DroppedHandles;
    }

    /// <summary>Whether <paramref name="receiver"/> may be given this kept message for a message of
    /// <paramref name="length"/> bytes.</summary>
    internal bool FitsFor(Process receiver, int length) => ReferenceEquals(_owner, receiver) && Data.Length == length;

    /// <summary>Lent out again by its endpoint (its bytes are about to be overwritten by the next message).</summary>
    internal void Relend() => Volatile.Write(ref _lent, 1);

    // Equality as before the lending fields: the bytes, handles and drop count (the lending state is not the message).
    public bool Equals(IpcMessage? other) =>
        other is not null && ReferenceEquals(Data, other.Data) && ReferenceEquals(Handles, other.Handles) && DroppedHandles == other.DroppedHandles;

    public override int GetHashCode() => HashCode.Combine(Data, Handles, DroppedHandles);

    /// <summary>Hands the message back to the endpoint it was received from (once; later calls do nothing).</summary>
    public void Dispose()
    {
        if (_home is not null && Interlocked.Exchange(ref _lent, 0) == 1) _home.KeepMessage(this);
    }
}

/// <summary>A message in flight: bytes plus capabilities the kernel holds on the receiver's behalf, and what it cost
/// the sender's tenant (refunded when it is received or dropped). A byte-only envelope whose bytes were copied out to a
/// receiver's buffer is reused for the next send of the same size (<see cref="ChannelEndpoint"/>'s envelope pool).</summary>
internal sealed class IpcEnvelope(byte[] data, CapabilityToken[] capabilities, KernelObject?[] objects, Principal chargedTo, long chargedBytes)
{
    public byte[] Data { get; } = data;
    public CapabilityToken[] Capabilities { get; } = capabilities;
    public KernelObject?[] Objects { get; } = objects;
    public Principal ChargedTo { get; private set; } = chargedTo;
    public long ChargedBytes { get; private set; } = chargedBytes;

    /// <summary>The next free envelope in an endpoint's pool (guarded by that endpoint's lock).</summary>
    internal IpcEnvelope? NextFree;

    // A packed batch (Lengths set): the byte-only messages of one batched send back to back in Data, one queue entry
    // for all of them, taken from the front (Cursor: the next message, Offset: its first byte). It stays charged its
    // whole batch (the memory is held) until its last message is taken; then it is pooled (keeping the charge, as a
    // single envelope does) or its charge is refunded. Guarded by the endpoint's lock.
    internal int[]? Lengths { get; private init; }
    internal int Count;
    internal int Cursor;
    internal int Offset;

    /// <summary>Messages this entry still holds (1 for a single message).</summary>
    internal int Remaining => Lengths is null ? 1 : Count - Cursor;

    /// <summary>A packed batch of <paramref name="lengths"/>.Length messages (bytes exactly their sum).</summary>
    internal static IpcEnvelope Packed(byte[] data, int[] lengths, Principal chargedTo, long chargedBytes) =>
        new(data, [], [], chargedTo, chargedBytes) { Lengths = lengths, Count = lengths.Length };

    /// <summary>Refills a pooled packed envelope of exactly this shape (as many messages, as many bytes).</summary>
    internal void RefillPacked(ReadOnlySpan<byte> data, ReadOnlySpan<int> lengths, Principal chargedTo, long chargedBytes)
    {
        data.CopyTo(Data);
        lengths.CopyTo(Lengths);
        Count = lengths.Length;
        Cursor = 0;
        Offset = 0;
        if (ChargedTo != chargedTo) ChargedTo = chargedTo;
        ChargedBytes = chargedBytes;
    }

    /// <summary>Gives the charge to whoever takes the last message (a packed batch split into single messages).</summary>
    internal void ClearCharge() => ChargedBytes = 0;

    /// <summary>Refills a pooled byte-only envelope for a new send (<paramref name="data"/> has its exact size).</summary>
    internal void Refill(ReadOnlySpan<byte> data, Principal chargedTo, long chargedBytes)
    {
        data.CopyTo(Data);
        // A stream from one sender refills with the same principal: skipping the write skips its two reference-write
        // barriers (a measurable share of a batched message).
        if (ChargedTo != chargedTo) ChargedTo = chargedTo;
        ChargedBytes = chargedBytes;
    }
}

/// <summary>What a receive into the caller's own buffer got: how many bytes of the buffer the message filled, and the
/// handles it carried, now in the receiver's table (as <see cref="IpcMessage"/>, without a byte array per message).</summary>
public readonly record struct IpcReceipt(int Length, IReadOnlyList<Handle> Handles)
{
    /// <summary>Capabilities of the message that did not arrive (revoked in flight, or over the receiver's quota).</summary>
    public int DroppedHandles { get; init; }
}
