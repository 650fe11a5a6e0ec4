using Photon.Kernel.Capabilities;
using Photon.Kernel.Quotas;

namespace Photon.Net.Sockets;

/// <summary>
/// One tenant's socket resources: buffer bytes charged to its memory quota as socket buffers grow (and refunded as
/// they are freed), and the ephemeral ports it holds. A refused charge is not an error of the socket: the buffer stays
/// at the size it has (<c>ByteRing</c>), so the sender waits and the receiver's window shrinks. <see cref="Refunds"/>
/// counts refunds so a buffer that was refused knows when trying again may succeed.
/// </summary>
public sealed class SocketAccount
{
    private readonly Lock _lock = new();
    private readonly Principal _chargeTo;
    private readonly TenantQuotas? _quotas;
    private readonly int _maxEphemeral;
    private long _bytes;
    private int _ephemeral, _refunds;

    internal SocketAccount(string tenant, Principal chargeTo, TenantQuotas? quotas, int maxEphemeral)
    {
        Tenant = tenant;
        _chargeTo = chargeTo; // any principal of the tenant: the quota charges by tenant
        _quotas = quotas;
        _maxEphemeral = maxEphemeral;
    }

    public string Tenant { get; }

    public SocketUsage Usage { get { lock (_lock) return new SocketUsage(Tenant, _bytes, _ephemeral); } }

    /// <summary>Changes with every refund: a buffer refused at one value may try again once it moved.</summary>
    internal int Refunds => Volatile.Read(ref _refunds);

    /// <summary>Charges <paramref name="bytes"/> of buffer memory to the tenant's quota, or refuses
    /// (<see cref="ErrorCode.QuotaExceeded"/>) and charges nothing.</summary>
    internal Result Charge(long bytes)
    {
        if (bytes <= 0) return Result.Ok;
        lock (_lock)
        {
            var r = _quotas?.ChargeMemoryBytes(_chargeTo, bytes) ?? Result.Ok;
            if (r.IsOk) _bytes += bytes;
            return r;
        }
    }

    internal void Refund(long bytes)
    {
        if (bytes <= 0) return;
        lock (_lock)
        {
            if (bytes > _bytes) throw new InvalidOperationException($"{Tenant}: refund of {bytes} bytes with {_bytes} charged");
            _quotas?.ChargeMemoryBytes(_chargeTo, -bytes);
            _bytes -= bytes;
            _refunds++;
        }
    }

    /// <summary>Takes one of the tenant's ephemeral ports, or <see cref="ErrorCode.QuotaExceeded"/> at its limit.</summary>
    internal Result TakeEphemeralPort()
    {
        lock (_lock)
        {
            if (_ephemeral >= _maxEphemeral)
                return Result.Fail(ErrorCode.QuotaExceeded, $"{Tenant} already holds {_maxEphemeral} ephemeral ports");
            _ephemeral++;
            return Result.Ok;
        }
    }

    internal void ReturnEphemeralPort()
    {
        lock (_lock)
        {
            if (_ephemeral == 0) throw new InvalidOperationException($"{Tenant}: ephemeral port returned twice");
            _ephemeral--;
        }
    }
}
