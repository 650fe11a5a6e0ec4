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

/// <summary>What a receiver gets: the bytes and the handles now in its table (Handle.Invalid where a capability
/// was revoked while in flight).</summary>
public sealed record IpcMessage(byte[] Data, IReadOnlyList<Handle> Handles)
{
    /// <summary>Capabilities of the message that did not arrive (revoked in flight, or over the receiver's quota).</summary>
    public int DroppedHandles { get; init; }
}

/// <summary>A message in flight: bytes plus capabilities the kernel holds on the receiver's behalf, and what it cost
/// the sender's tenant (refunded when it is received or dropped).</summary>
internal sealed record IpcEnvelope(byte[] Data, CapabilityToken[] Capabilities, KernelObject?[] Objects, Principal ChargedTo, long ChargedBytes);
