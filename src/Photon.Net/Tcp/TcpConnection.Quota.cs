using Photon.Net.Sockets;

namespace Photon.Net.Tcp;

/// <summary>
/// What a connection holds for its tenant (issue #15): its send and receive buffers and out-of-order segments are
/// charged to the owning tenant's memory quota as they grow (<see cref="ByteRing.Account"/>), and an outbound
/// connection holds one of the tenant's ephemeral ports. Everything is given back exactly once: the receive side when
/// nobody is left to read it (the last handle closed) and everything when the connection is gone (closed, reset, timed
/// out, aborted, TIME_WAIT over) — <see cref="Finish"/> is the one exit every end goes through. Runs under the stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private SocketAccount? _account;
    private bool _holdsEphemeralPort;
    private long _outOfOrderCharged;
    private TimeSpan _releasedAt;

    /// <summary>Bytes charged to the owning tenant now (buffers and out-of-order segments).</summary>
    internal long ChargedBytes => _send.ChargedBytes + _receive.ChargedBytes + _outOfOrderCharged;

    /// <summary>Charges this connection's memory (and, for an outbound one, its ephemeral port, already taken by the
    /// caller) to <paramref name="account"/>. Called before any data moves.</summary>
    internal void ChargeTo(SocketAccount account, bool ephemeralPort)
    {
        _account = account;
        _send.Account = _receive.Account = account;
        _readers.Account = _writers.Account = account; // parked calls are memory too
        _holdsEphemeralPort = ephemeralPort;
    }

    /// <summary>Out-of-order bytes are memory the peer makes us hold: charged like the buffers, refused the same way
    /// (the segment is dropped and will be retransmitted).</summary>
    private bool ChargeOutOfOrder(int bytes)
    {
        if (_account is null) return true;
        if (!_account.Charge(bytes).IsOk) return false;
        _outOfOrderCharged += bytes;
        return true;
    }

    private void RefundOutOfOrder(int bytes)
    {
        if (_account is null) return;
        bytes = (int)Math.Min(bytes, _outOfOrderCharged);
        _outOfOrderCharged -= bytes;
        _account.Refund(bytes);
    }

    private void ReleaseReceiveBuffer()
    {
        _receive.Release();
        _outOfOrder.Clear();
        _outOfOrderBytes = 0;
        RefundOutOfOrder((int)Math.Min(_outOfOrderCharged, int.MaxValue));
    }

    /// <summary>The connection is gone: the send buffer and the ephemeral port go back now; the receive buffer too unless
    /// a handle may still read what it holds (then it goes when that handle closes).</summary>
    private void ReleaseResources()
    {
        _send.Release();
        EndLentSends(); // their memory is no longer read; Finish wakes the parked ones with the connection's end
        if (_released || _error is not null || _receive.Count == 0) ReleaseReceiveBuffer();
        if (_holdsEphemeralPort)
        {
            _holdsEphemeralPort = false;
            _account?.ReturnEphemeralPort();
        }
    }

    /// <summary>An orphan (no handle left) that has not finished within <see cref="NetworkStackOptions.TcpOrphanTimeout"/>
    /// is reset, which gives back everything it holds.</summary>
    private bool OrphanExpired(TimeSpan now)
    {
        if (!_released || State is TcpState.TimeWait or TcpState.Closed || now - _releasedAt < _stack.Options.TcpOrphanTimeout) return false;
        Fail(Errors.Of(ErrorCode.TimedOut, "orphaned connection did not finish closing"), sendReset: true);
        return true;
    }

    /// <summary>A send into an empty buffer that cannot get any storage would wait forever: it fails instead.</summary>
    private KernelError SendBufferRefused() =>
        Errors.Of(ErrorCode.QuotaExceeded, $"{_account?.Tenant}: memory quota leaves no room for a send buffer");
}
