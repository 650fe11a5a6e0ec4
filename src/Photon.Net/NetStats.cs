namespace Photon.Net;

/// <summary>Why a received frame, packet or segment was dropped. Every drop is counted; none throws or stalls the stack.</summary>
public enum DropReason
{
    Truncated, BadLength, BadChecksum, BadVersion, BadHeader, NotForUs, UnsupportedEtherType, UnsupportedProtocol, BadArp,
    /// <summary>IPv6: an extension header chain over the limits or malformed (<see cref="Wire.Ipv6HeaderChain"/>); a
    /// Neighbor Discovery message that fails RFC 4861's checks (hop limit not 255, bad options, wrong addresses); a
    /// neighbour cache with no entry to give up for a new neighbour.</summary>
    BadExtensionHeader, BadNdp, NeighbourCacheFull,
    BadFragment, OverlappingFragment, ReassemblyLimit, ReassemblyTimeout,
    /// <summary>A datagram in reassembly dropped to make room for a newer one (its sender made no progress for longest).</summary>
    ReassemblyEvicted,
    /// <summary>A source address no honest sender uses (0.0.0.0/8, loopback, multicast, broadcast, one of ours).</summary>
    MartianSource,
    TtlExpired, NoRoute, NoSocket,
    /// <summary>An ACK whose SYN cookie did not check out (forged, stale or for another four-tuple).</summary>
    BadSynCookie,
    OutOfWindow, AcceptQueueFull, BadTcpOptions, UdpQueueFull, TxError,
    /// <summary>An outgoing packet larger than the MTU with Don't Fragment set (a stack bug if TCP ever hits it).</summary>
    TooBigToSend,
    /// <summary>A segment whose timestamp is older than the connection's (RFC 7323 PAWS): an old duplicate.</summary>
    Paws,
    /// <summary>An out-of-order segment beyond the per-connection limit of held segments.</summary>
    OutOfOrderLimit,
    /// <summary>Processing the frame hit a bug in the stack: counted (and the frame dropped) instead of killing the
    /// receive loop; tests assert it stays zero.</summary>
    InternalError,
    /// <summary>A received frame lent in the device's DMA buffer whose loan was revoked before the stack read it (the NIC
    /// stopping under a burst).</summary>
    RxLoanRevoked,
}

/// <summary>Events worth counting that are not drops.</summary>
public enum Counter
{
    ArpQueueOverflow, ArpFailed, Reassembled, Fragmented, Forwarded, EchoRepliesSent,
    /// <summary>IPv6 neighbour discovery: packets dropped from a full per-neighbour queue, neighbours that never answered
    /// (their queued packets dropped), addresses found duplicate by DAD, ICMPv6 errors sent.</summary>
    NeighbourQueueOverflow, NeighbourFailed, DuplicateAddresses, Icmpv6ErrorsSent,
    /// <summary>ICMP errors not sent because a rate limit was reached.</summary>
    IcmpErrorsRateLimited,
    TcpSegmentsIn, TcpSegmentsOut, TcpRetransmits, TcpFastRetransmits, TcpSackRetransmits, TcpTailLossProbes, TcpTimeouts, TcpResetsSent, TcpChallengeAcks,
    TcpActiveOpens, TcpPassiveOpens, TcpSynCookiesSent, TcpSynCookiesAccepted, UdpDatagramsIn, UdpDatagramsOut,
    /// <summary>TCP output work: payload bytes copied from socket buffers into frames, bytes the stack checksummed in
    /// software, segments whose checksum the NIC filled, and large segments the NIC cut into MSS-sized ones (TSO).</summary>
    TcpPayloadBytesCopiedOut, TcpChecksumBytesSoftware, TcpChecksumsOffloaded, TcpSegmentationOffloads,
}

/// <summary>The congestion control algorithms a connection can use.</summary>
public enum TcpCongestionControl { Cubic, NewReno }

/// <summary>Tunables of one stack. Defaults follow Linux where it has one.</summary>
public sealed record NetworkStackOptions
{
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(10);
    /// <summary>Let NICs that offer it fill TCP checksums and segment large TCP sends (TSO); off: the stack does both itself.</summary>
    public bool UseNicOffloads { get; init; } = true;
    public TimeSpan ArpEntryLifetime { get; init; } = TimeSpan.FromMinutes(1);
    public int ArpQueuePerNeighbour { get; init; } = 64;
    public int MaxReassemblies { get; init; } = 64;
    /// <summary>Datagrams one source address may have in reassembly at once.</summary>
    public int MaxReassembliesPerSource { get; init; } = 16;
    /// <summary>Fragment bytes held for reassembly in all (Linux's ipfrag_high_thresh is 4 MiB).</summary>
    public long MaxReassemblyBytes { get; init; } = 4 * 1024 * 1024;
    public TimeSpan ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>ICMP errors the stack sends per second at most, after a burst (Linux: icmp_msgs_per_sec, burst 50).</summary>
    public int IcmpErrorsPerSecond { get; init; } = 1000;
    public int IcmpErrorBurst { get; init; } = 50;
    /// <summary>ICMP errors to one destination: one per interval after a burst (Linux: icmp_ratelimit 1000 ms, burst 6).</summary>
    public TimeSpan IcmpErrorDestinationInterval { get; init; } = TimeSpan.FromSeconds(1);
    public int IcmpErrorDestinationBurst { get; init; } = 6;
    /// <summary>Forward packets between interfaces (act as a router).</summary>
    public bool Forwarding { get; init; }
    public byte DefaultTtl { get; init; } = 64;
    /// <summary>Maximum segment lifetime; TIME_WAIT lasts twice this.</summary>
    public TimeSpan TcpMsl { get; init; } = TimeSpan.FromSeconds(30);
    public int TcpSendBuffer { get; init; } = 512 * 1024;
    public int TcpReceiveBuffer { get; init; } = 512 * 1024;
    /// <summary>Half-open (SYN_RECEIVED) connections per listener; beyond it the oldest is evicted (a SYN cache, RFC 4987).</summary>
    public int TcpMaxHalfOpen { get; init; } = 256;
    public TimeSpan TcpMinRto { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan TcpInitialRto { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan TcpMaxRto { get; init; } = TimeSpan.FromSeconds(60);
    public int TcpMaxRetransmits { get; init; } = 15;
    public int TcpSynRetries { get; init; } = 6;
    public int UdpQueueDepth { get; init; } = 512;
    /// <summary>The congestion controller of new connections (CUBIC by default, as on Linux).</summary>
    public TcpCongestionControl TcpCongestionControl { get; init; } = TcpCongestionControl.Cubic;
    /// <summary>Send a tail loss probe (RFC 8985 §7) two smoothed RTTs after the last transmission when the tail of a
    /// flight may be lost, so SACK recovery repairs it instead of a retransmission timeout.</summary>
    public bool TcpTailLossProbe { get; init; } = true;
    /// <summary>Offer and use selective acknowledgements (RFC 2018).</summary>
    public bool TcpSack { get; init; } = true;
    /// <summary>Offer and use timestamps (RFC 7323): an RTT sample from every ACK, and PAWS.</summary>
    public bool TcpTimestamps { get; init; } = true;
    /// <summary>IPv6 neighbour cache entries per interface; a new neighbour beyond it evicts the least recently used.</summary>
    public int Ipv6NeighbourCacheSize { get; init; } = 256;
    /// <summary>Packets parked per neighbour being resolved (the oldest is dropped beyond it).</summary>
    public int Ipv6NeighbourQueue { get; init; } = 8;
    /// <summary>How long a confirmed neighbour stays REACHABLE (RFC 4861 REACHABLE_TIME).</summary>
    public TimeSpan Ipv6ReachableTime { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Between neighbour solicitations and DAD probes (RFC 4861 RETRANS_TIMER).</summary>
    public TimeSpan Ipv6RetransTimer { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>DAD probes per address before it is used (RFC 4862 DupAddrDetectTransmits); 0 turns DAD off.</summary>
    public int Ipv6DadTransmits { get; init; } = 1;
}
