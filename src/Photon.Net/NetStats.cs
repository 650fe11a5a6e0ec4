using Photon.Net.Tcp;

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
    /// <summary>A datagram for a UDP socket whose tenant's memory quota refused to hold it (the socket's own queue had room).</summary>
    UdpOverQuota,
}

/// <summary>Events worth counting that are not drops.</summary>
public enum Counter
{
    ArpQueueOverflow, ArpFailed,
    /// <summary>ARP: pending resolutions evicted (oldest first) for a new one beyond <see cref="NetworkStackOptions.ArpMaxPending"/>;
    /// frames dropped from pending queues to stay within <see cref="NetworkStackOptions.ArpPendingBytes"/>; a different
    /// link-layer address for a REACHABLE neighbour not taken (Linux arp_accept=0 and locktime rules); gratuitous
    /// announcements of our own addresses sent.</summary>
    ArpPendingEvicted, ArpPendingBytesDropped, ArpOverrideRefused, ArpAnnouncementsSent,
    Reassembled, Fragmented, Forwarded, EchoRepliesSent,
    /// <summary>IPv6 neighbour discovery: packets dropped from a full per-neighbour queue, neighbours that never answered
    /// (their queued packets dropped), addresses found duplicate by DAD, ICMPv6 errors sent.</summary>
    NeighbourQueueOverflow, NeighbourFailed, DuplicateAddresses, Icmpv6ErrorsSent,
    /// <summary>ICMP errors, and resets for closed TCP ports, not sent because a rate limit was reached.</summary>
    IcmpErrorsRateLimited, TcpResetsRateLimited,
    TcpSegmentsIn, TcpSegmentsOut, TcpRetransmits, TcpFastRetransmits, TcpSackRetransmits, TcpTailLossProbes, TcpTimeouts,
    /// <summary>Retransmissions of segments RACK (RFC 8985) deemed lost, and RFC 6675 rescue retransmissions.</summary>
    TcpRackRetransmits, TcpRescueRetransmits, TcpResetsSent, TcpChallengeAcks,
    /// <summary>RFC 2883 D-SACKs received: the peer got a segment twice, so a retransmission was spurious (or the path duplicated it).</summary>
    TcpDuplicateSacks,
    /// <summary>Fast-recovery window reductions undone because the peer D-SACKed every retransmission of the episode
    /// (reordering or delay, not loss: RFC 2883 §5).</summary>
    TcpSpuriousRecoveriesUndone,
    TcpActiveOpens, TcpPassiveOpens, TcpSynCookiesSent, TcpSynCookiesAccepted, UdpDatagramsIn, UdpDatagramsOut,
    /// <summary>TCP output work: payload bytes copied from socket buffers into frames, bytes the stack checksummed in
    /// software, segments whose checksum the NIC filled, and large segments the NIC cut into MSS-sized ones (TSO).</summary>
    TcpPayloadBytesCopiedOut, TcpChecksumBytesSoftware, TcpChecksumsOffloaded, TcpSegmentationOffloads,
    /// <summary>TCP payload bytes handed to a device that gathers (<c>NetworkOffloads.ScatterGather</c>) where they lie in
    /// the send buffer, not copied into a frame.</summary>
    TcpPayloadBytesByReference,
    /// <summary>TCP input work: segments whose checksum the NIC vouched for (receive checksum offload), and bytes the stack
    /// verified in software.</summary>
    TcpChecksumsVerifiedByNic, TcpChecksumBytesVerifiedSoftware,
    /// <summary>Parked receives of <c>ResumeReceivesInline</c> sockets resumed on the receiving thread after a burst, and
    /// those posted instead because the burst's inline budget was spent.</summary>
    TcpReceivesResumedInline, TcpReceivesResumedLater,
    /// <summary>In-order TCP payload bytes copied from the device's frame straight into a parked receive's buffer (the
    /// socket buffer skipped: one copy per byte instead of two), and those that went through the socket buffer.</summary>
    TcpPayloadBytesToParkedReader, TcpPayloadBytesBuffered,
    /// <summary>The send path (issue #17): bytes a send queued itself; bytes the stack took from a parked send's memory
    /// as ACKs freed room (no wake-up of the writer for them); sends that parked; parked sends woken (done, or ended by
    /// an error or close); send buffer storage grown by arrays allocated outside the stack's lock; and those arrays
    /// allocated, each after its charge was reserved; those given back unadopted with their charge (a concurrent growth
    /// got there first, or the connection closed meanwhile) — every allocation is a growth or a return; and growths the
    /// owner's quota refused before anything was allocated.</summary>
    TcpSendBytesQueuedByWriter, TcpSendBytesTakenFromParkedWriter, TcpSendsParked, TcpSendsWoken, TcpSendStorageGrowths,
    TcpSendStorageAllocations, TcpSendStorageReturned, TcpSendStorageRefused,
    /// <summary>Sends whose memory was lent to the send buffer instead of copied into it (vm17), and their bytes.</summary>
    TcpSendsLent, TcpSendBytesLent,
    /// <summary>Cut lent sends (cancelled, or the last handle closed) whose sent, unacknowledged bytes were copied into the
    /// send buffer's own storage so the send could end at once (review18).</summary>
    TcpLentBytesTakenOnCut,
    /// <summary>Lent bytes frames carried by reference under the sender's lease (vm18; within
    /// <see cref="TcpPayloadBytesByReference"/>), and lent sends whose end had to wait for a device still reading a frame
    /// of theirs when the lease was revoked.</summary>
    TcpLentBytesByReference, TcpLentSendsWaitedForReader,
}

/// <summary>The congestion control algorithms a connection can use.</summary>
public enum TcpCongestionControl { Cubic, NewReno }

/// <summary>Tunables of one stack. Defaults follow Linux where it has one.</summary>
public sealed record NetworkStackOptions
{
    /// <summary>The stack's timer tick: above zero and at most <see cref="MaxTickInterval"/>, or the options throw (a
    /// zero tick would spin a core; an absurd one overflowed the timer's deadline arithmetic).</summary>
    public TimeSpan TickInterval
    {
        get => _tickInterval;
        init => _tickInterval = value > TimeSpan.Zero && value <= MaxTickInterval
            ? value
            : throw new ArgumentOutOfRangeException(nameof(TickInterval), value, $"a tick is above zero and at most {MaxTickInterval}");
    }
    private readonly TimeSpan _tickInterval = TimeSpan.FromMilliseconds(10);
    public static readonly TimeSpan MaxTickInterval = TimeSpan.FromMinutes(1);
    /// <summary>Let NICs that offer it fill TCP checksums and segment large TCP sends (TSO); off: the stack does both itself.</summary>
    public bool UseNicOffloads { get; init; } = true;
    public TimeSpan ArpEntryLifetime { get; init; } = TimeSpan.FromMinutes(1);
    public int ArpQueuePerNeighbour { get; init; } = 64;
    /// <summary>Neighbours being resolved at once per interface; a new one beyond it evicts the oldest (its frames dropped).</summary>
    public int ArpMaxPending { get; init; } = 256;
    /// <summary>Bytes of frames parked for resolution per interface in all; beyond it the oldest frames go first (Linux
    /// bounds each neighbour's queue by unres_qlen_bytes).</summary>
    public long ArpPendingBytes { get; init; } = 1024 * 1024;
    /// <summary>Neighbours in the ARP cache per interface; learning a new one beyond it drops the least recently seen.</summary>
    public int ArpCacheSize { get; init; } = 1024;
    /// <summary>How long a neighbour confirmed by a reply to us stays REACHABLE: meanwhile requests, gratuitous ARP and
    /// unsolicited replies cannot change its link-layer address (Linux base_reachable_time, 30 s).</summary>
    public TimeSpan ArpReachableTime { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>After a neighbour's address was set, even a reply cannot change it for this long: the first reply wins
    /// (Linux locktime, 1 s).</summary>
    public TimeSpan ArpLockTime { get; init; } = TimeSpan.FromSeconds(1);
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
    /// <summary>Lend a large send's memory to the send buffer instead of copying it in (issue #17, vm17): a send of at
    /// least 64 KiB that does not fit the buffer is read in place until acknowledged, and ends then.</summary>
    public bool TcpLendLargeSends { get; init; } = true;
    /// <summary>Let frames carry lent bytes by reference, each holding the send's lease (issue #17, vm18): the device
    /// copies them straight into its DMA slots, and a frame still queued when the send ends is dropped unread. Off: lent
    /// bytes are copied into each frame under the stack's lock (vm17 merged).</summary>
    public bool TcpLentBytesByReference { get; init; } = true;
    public int TcpReceiveBuffer { get; init; } = 512 * 1024;
    /// <summary>How far autotuning may grow a connection's send buffer from <see cref="TcpSendBuffer"/> (Linux's
    /// tcp_wmem maximum, 4 MiB); no larger than the initial size turns send autotuning off.</summary>
    public int TcpSendBufferMax { get; init; } = 4 * 1024 * 1024;
    /// <summary>How far autotuning may grow a connection's receive buffer from <see cref="TcpReceiveBuffer"/> (Linux's
    /// tcp_rmem maximum is 6 MiB; 4 MiB here, what a window scale of 7 can still advertise in full with room to spare).</summary>
    public int TcpReceiveBufferMax { get; init; } = 4 * 1024 * 1024;
    /// <summary>Half-open (SYN_RECEIVED) connections per listener; beyond it the oldest is evicted (a SYN cache, RFC 4987).</summary>
    public int TcpMaxHalfOpen { get; init; } = 256;
    public TimeSpan TcpMinRto { get; init; } = TimeSpan.FromMilliseconds(200);
    public TimeSpan TcpInitialRto { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan TcpMaxRto { get; init; } = TimeSpan.FromSeconds(60);
    public int TcpMaxRetransmits { get; init; } = 15;
    public int TcpSynRetries { get; init; } = 6;
    /// <summary>How long a connection nobody holds a handle to any more (closed, or its process died) may take to finish
    /// sending and closing before it is reset: a peer that keeps its window shut cannot keep a dead tenant's buffers
    /// charged for ever (Linux bounds orphans with tcp_orphan_retries and FIN_WAIT_2's timeout).</summary>
    public TimeSpan TcpOrphanTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Datagrams one UDP socket queues for its reader; beyond it arrivals are dropped (<see cref="DropReason.UdpQueueFull"/>).</summary>
    public int UdpQueueDepth { get; init; } = 512;
    /// <summary>Bytes one UDP socket's queued datagrams may cost (payloads plus <see cref="Udp.UdpSocket.DatagramOverhead"/>
    /// each; Linux's default receive buffer is 208 KiB); beyond it arrivals are dropped. What is queued is also charged to
    /// the owning tenant's memory quota.</summary>
    public int UdpQueueBytes { get; init; } = 256 * 1024;
    /// <summary>Calls of one kind (receives, accepts, sends waiting for room) one socket may have parked at once; beyond
    /// it a call fails with <see cref="ErrorCode.Busy"/>. Each parked call is also charged to the owning tenant's memory
    /// quota (<see cref="Sockets.PendingCalls{T}.Cost"/>), so a tenant's sockets together park what its quota allows.</summary>
    public int SocketMaxPendingCalls { get; init; } = 64;
    /// <summary>The congestion controller of new connections (CUBIC by default, as on Linux).</summary>
    public TcpCongestionControl TcpCongestionControl { get; init; } = TcpCongestionControl.Cubic;
    /// <summary>For tests: builds each new connection's controller instead of <see cref="TcpCongestionControl"/>, so a
    /// test can record every congestion event of a real transfer.</summary>
    internal Func<ICongestionController>? TcpCongestionControllerFactory { get; init; }
    /// <summary>Send a tail loss probe (RFC 8985 §7) two smoothed RTTs after the last transmission when the tail of a
    /// flight may be lost, so SACK recovery repairs it instead of a retransmission timeout.</summary>
    public bool TcpTailLossProbe { get; init; } = true;
    /// <summary>RACK loss detection (RFC 8985 §6) with SACK: resend what later deliveries show lost, lost
    /// retransmissions included, without waiting for duplicate ACKs or the retransmission timer.</summary>
    public bool TcpRack { get; init; } = true;
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
