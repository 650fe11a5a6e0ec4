namespace Photon.Net.Dhcp;

public enum DhcpLeasePhase { Bound, Renewing, Rebinding, Expired }

/// <summary>
/// A lease as the client holds it (RFC 2131 §4.4.5): taken at <see cref="Acquired"/>, renewed from the leasing server
/// after T1, from any server after T2, and gone at the lease time — then the address must be given up. Times are on the
/// kernel's monotonic clock; an infinite lease never moves past Bound.
/// </summary>
public sealed record DhcpLease(DhcpReply Ack, TimeSpan Acquired)
{
    public Ipv4Cidr Address => new(Ack.YourAddress, Ack.PrefixLength);

    public DhcpLeasePhase PhaseAt(TimeSpan now)
    {
        var held = now - Acquired;
        if (Ack.LeaseTime == TimeSpan.MaxValue) return DhcpLeasePhase.Bound;
        if (held >= Ack.LeaseTime) return DhcpLeasePhase.Expired;
        if (held >= Ack.RebindTime) return DhcpLeasePhase.Rebinding;
        if (held >= Ack.RenewTime) return DhcpLeasePhase.Renewing;
        return DhcpLeasePhase.Bound;
    }

    /// <summary>When the next phase begins (the client's next timer), or null for an infinite lease.</summary>
    public TimeSpan? NextEventAt(TimeSpan now) => PhaseAt(now) switch
    {
        _ when Ack.LeaseTime == TimeSpan.MaxValue => null,
        DhcpLeasePhase.Bound => Acquired + Ack.RenewTime,
        DhcpLeasePhase.Renewing => Acquired + Ack.RebindTime,
        DhcpLeasePhase.Rebinding => Acquired + Ack.LeaseTime,
        _ => null,
    };
}
