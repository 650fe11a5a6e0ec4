using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>Neighbor Unreachability Detection states (RFC 4861 §7.3.2).</summary>
public enum NeighbourState { Incomplete, Reachable, Stale, Delay, Probe }

public sealed record NeighbourEntry(Ipv6Address Address, string? Mac, NeighbourState State, bool IsRouter, int QueuedPackets);

/// <summary>
/// The IPv6 neighbour cache of one interface (RFC 4861 §7.2–7.3), bounded so that no flood grows it: at most
/// <see cref="NetworkStackOptions.Ipv6NeighbourCacheSize"/> entries (a new one evicts the least recently used entry that
/// is not reachable, or failing that the least recently used of all), at most
/// <see cref="NetworkStackOptions.Ipv6NeighbourQueue"/> packets parked per unresolved neighbour (the oldest dropped). Entries
/// are only created by our own need to send, by a solicitation for one of our addresses, or by a router advertisement —
/// never by an advertisement: an unsolicited NA for an unknown address is ignored (§7.2.5), and one without the override
/// flag cannot replace a known link-layer address. Guarded by the stack's lock.
/// </summary>
public sealed class NeighbourCache
{
    private sealed class Neighbour
    {
        public NeighbourState State;
        public byte[]? Mac;
        public bool IsRouter;
        public TimeSpan Due; // the state's timer: next probe, or when REACHABLE/DELAY run out
        public int Probes;
        public TimeSpan LastUsed;
        public Queue<(byte[] Frame, TxOffload Offload)>? Parked;
    }

    private readonly Ipv6Interface _owner;
    private readonly NetworkStack _stack;
    private readonly Dictionary<Ipv6Address, Neighbour> _entries = new();

    internal NeighbourCache(Ipv6Interface owner, NetworkStack stack)
    {
        _owner = owner;
        _stack = stack;
    }

    /// <summary>Probes sent before a neighbour is given up (MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT), and how long a
    /// stale entry in use waits for upper-layer confirmation before probing (DELAY_FIRST_PROBE_TIME), §10.</summary>
    internal const int MaxProbes = 3;
    internal static readonly TimeSpan DelayFirstProbe = TimeSpan.FromSeconds(5);

    public int Count => _entries.Count;

    public IReadOnlyList<NeighbourEntry> Entries => _entries
        .Select(kv => new NeighbourEntry(kv.Key, kv.Value.Mac is { } m ? Mac.Format(m) : null, kv.Value.State, kv.Value.IsRouter, kv.Value.Parked?.Count ?? 0))
        .ToList();

    internal NeighbourState? StateOf(Ipv6Address a) => _entries.TryGetValue(a, out var n) ? n.State : null;

    /// <summary>Sends <paramref name="frame"/> (IPv6 and Ethernet type already written) to the neighbour
    /// <paramref name="nextHop"/>, resolving it first if need be.</summary>
    /// <summary>The neighbour's link-layer address is known: a frame sent now goes out at once, not parked.</summary>
    internal bool CanSendNow(Ipv6Address nextHop) => _entries.TryGetValue(nextHop, out var n) && n.State != NeighbourState.Incomplete && n.Mac is not null;

    /// <summary>As below, with a payload by reference: only for a neighbour that <see cref="CanSendNow"/> (a parked
    /// frame must not hold a socket buffer's bytes), else the frame is copied whole and sent the usual way.</summary>
    internal void Send(Ipv6Address nextHop, byte[] frame, TimeSpan now, TxOffload offload, TxPayload payload)
    {
        if (payload.IsEmpty || !CanSendNow(nextHop)) { Send(nextHop, payload.IsEmpty ? frame : payload.Materialize(frame), now, offload); return; }
        var n = _entries[nextHop];
        n.LastUsed = now;
        if (n.State == NeighbourState.Stale)
        {
            n.State = NeighbourState.Delay;
            n.Due = now + DelayFirstProbe;
        }
        _owner.TransmitTo(n.Mac!, frame, offload, payload);
    }

    internal void Send(Ipv6Address nextHop, byte[] frame, TimeSpan now, TxOffload offload = default)
    {
        if (!_entries.TryGetValue(nextHop, out var n))
        {
            n = Create(nextHop, now);
            if (n is null) { _stack.Count(DropReason.NeighbourCacheFull); return; }
            n.State = NeighbourState.Incomplete;
            n.Probes = 1;
            n.Due = now + _stack.Options.Ipv6RetransTimer;
            _owner.SendNeighborSolicitation(nextHop, unicastTo: null, SourceOf(frame));
        }
        n.LastUsed = now;
        if (n.State == NeighbourState.Incomplete)
        {
            var parked = n.Parked ??= new Queue<(byte[], TxOffload)>();
            if (parked.Count >= _stack.Options.Ipv6NeighbourQueue) { parked.Dequeue(); _stack.Count(Counter.NeighbourQueueOverflow); }
            parked.Enqueue((frame, offload));
            return;
        }
        if (n.State == NeighbourState.Stale)
        {
            n.State = NeighbourState.Delay;
            n.Due = now + DelayFirstProbe;
        }
        _owner.TransmitTo(n.Mac!, frame, offload);
    }

    /// <summary>A solicitation or router message carrying the sender's link-layer address (§7.2.3, §6.3.4): create the
    /// entry STALE, or make it STALE if the address changed.</summary>
    internal void LearnFromSender(Ipv6Address sender, byte[] mac, bool isRouter, TimeSpan now)
    {
        if (!_entries.TryGetValue(sender, out var n))
        {
            n = Create(sender, now);
            if (n is null) { _stack.Count(DropReason.NeighbourCacheFull); return; }
            n.State = NeighbourState.Stale;
            n.Mac = mac;
        }
        else if (n.State == NeighbourState.Incomplete || n.Mac is null || !n.Mac.AsSpan().SequenceEqual(mac))
        {
            n.Mac = mac;
            n.State = NeighbourState.Stale;
        }
        if (isRouter) n.IsRouter = true;
        Flush(n);
    }

    /// <summary>A neighbour advertisement for someone else's address (§7.2.5).</summary>
    internal void OnAdvertisement(NdpMessage na, TimeSpan now)
    {
        if (!_entries.TryGetValue(na.Target, out var n)) return; // unsolicited, for no one we asked about: ignored
        if (n.State == NeighbourState.Incomplete)
        {
            if (na.LinkAddress is null) return;
            n.Mac = na.LinkAddress;
            n.IsRouter = na.Router;
            SetReachableOrStale(n, na.Solicited, now);
            Flush(n);
            return;
        }
        bool differs = na.LinkAddress is not null && !na.LinkAddress.AsSpan().SequenceEqual(n.Mac);
        if (!na.Override && differs)
        {
            // Someone claims the address without the right to override: at most it makes us check again.
            if (n.State == NeighbourState.Reachable) n.State = NeighbourState.Stale;
            return;
        }
        if (na.LinkAddress is not null) n.Mac = na.LinkAddress;
        if (na.Solicited) SetReachableOrStale(n, true, now);
        else if (differs) n.State = NeighbourState.Stale;
        n.IsRouter = na.Router;
    }

    private void SetReachableOrStale(Neighbour n, bool reachable, TimeSpan now)
    {
        n.State = reachable ? NeighbourState.Reachable : NeighbourState.Stale;
        n.Due = now + _stack.Options.Ipv6ReachableTime;
        n.Probes = 0;
    }

    private void Flush(Neighbour n)
    {
        if (n.Parked is not { } parked || n.Mac is null) return;
        n.Parked = null;
        while (parked.TryDequeue(out var p)) _owner.TransmitTo(n.Mac, p.Frame, p.Offload);
    }

    /// <summary>Runs the state timers: retransmits probes, gives up silent neighbours (dropping what waits for them),
    /// turns REACHABLE into STALE and DELAY into PROBE, and forgets stale entries nobody used for a while.</summary>
    internal void Tick(TimeSpan now)
    {
        if (_entries.Count == 0) return;
        List<Ipv6Address>? gone = null;
        foreach (var (address, n) in _entries)
        {
            switch (n.State)
            {
                case NeighbourState.Incomplete or NeighbourState.Probe when now >= n.Due:
                    if (n.Probes >= MaxProbes) { (gone ??= new()).Add(address); break; }
                    n.Probes++;
                    n.Due = now + _stack.Options.Ipv6RetransTimer;
                    _owner.SendNeighborSolicitation(address, n.State == NeighbourState.Probe ? n.Mac : null, null);
                    break;
                case NeighbourState.Reachable when now >= n.Due:
                    n.State = NeighbourState.Stale;
                    break;
                case NeighbourState.Delay when now >= n.Due:
                    n.State = NeighbourState.Probe;
                    n.Probes = 1;
                    n.Due = now + _stack.Options.Ipv6RetransTimer;
                    _owner.SendNeighborSolicitation(address, n.Mac, null);
                    break;
                case NeighbourState.Stale when now - n.LastUsed > _stack.Options.ArpEntryLifetime:
                    (gone ??= new()).Add(address);
                    break;
            }
        }
        foreach (var a in gone ?? [])
        {
            var n = _entries[a];
            if (n.State is NeighbourState.Incomplete or NeighbourState.Probe) _stack.Count(Counter.NeighbourFailed, 1 + (n.Parked?.Count ?? 0));
            _entries.Remove(a);
        }
    }

    internal void Remove(Ipv6Address a) => _entries.Remove(a);

    private Neighbour? Create(Ipv6Address address, TimeSpan now)
    {
        if (_entries.Count >= Math.Max(1, _stack.Options.Ipv6NeighbourCacheSize) && !EvictOne()) return null;
        var n = new Neighbour { LastUsed = now };
        _entries[address] = n;
        return n;
    }

    // The least recently used entry that is not known reachable goes first: a flood of solicitations from made-up
    // sources then churns through its own entries, not the neighbours in active use.
    private bool EvictOne()
    {
        Ipv6Address? victim = null, fallback = null;
        TimeSpan oldest = TimeSpan.MaxValue, oldestAny = TimeSpan.MaxValue;
        foreach (var (a, n) in _entries)
        {
            if (n.LastUsed < oldestAny) { oldestAny = n.LastUsed; fallback = a; }
            if (n.State != NeighbourState.Reachable && n.LastUsed < oldest) { oldest = n.LastUsed; victim = a; }
        }
        if ((victim ?? fallback) is not { } v) return false;
        if (_entries[v].Parked is { Count: > 0 } parked) _stack.Count(Counter.NeighbourFailed, parked.Count);
        _entries.Remove(v);
        return true;
    }

    private static Ipv6Address? SourceOf(byte[] frame) =>
        frame.Length >= Ipv6Frame.TransportAt ? Ipv6Address.Read(frame.AsSpan(Ipv6Frame.Ipv6At + 8)) : null;
}
