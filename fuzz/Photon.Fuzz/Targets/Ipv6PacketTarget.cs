using System.Buffers.Binary;
using Photon.Kernel.Hal;
using Photon.Kernel.Scheduling;
using Photon.Net;
using Photon.Net.Wire;

namespace Photon.Fuzz.Targets;

/// <summary>
/// IPv6 packets (no Ethernet header): the fixed header, the extension header chain walk, ICMPv6 and Neighbor Discovery
/// parsing, then the same packet into a network stack with IPv6 on (neighbour cache, SLAAC, echo, reassembly). The
/// harness fixes the ICMPv6 checksum of a packet whose chain ends in ICMPv6, so mutations reach the parsers behind it.
/// Findings: an exception, a chain walk that points outside the packet or exceeds its limits, an NDP message with more
/// prefixes than kept or a link address that is not 6 bytes, a stack InternalError, or a neighbour cache past its bound.
/// </summary>
public sealed class Ipv6PacketTarget : IFuzzTarget
{
    private static readonly byte[] Mac = [2, 0, 0, 0, 0, 2];
    private NetworkStack? _stack;
    private NetInterface? _nic;

    public string Name => "ipv6";

    private void Start()
    {
        _stack = new NetworkStack(new FrozenTimers());
        _nic = _stack.AddInterface(new DiscardDevice("fuzz6", Mac), Ipv4Cidr.Parse("10.9.0.2/24").Value).Value;
        _stack.AddIpv6Address(_nic, Ipv6Cidr.Parse("fd00::2/64").Value).Unwrap();
    }

    public void Run(byte[] input)
    {
        if (_stack is null) Start();
        if (Ipv6Packet.TryParse(input, out var ip, out _))
        {
            var payload = ip.Payload;
            var chain = Ipv6HeaderChain.Walk(payload, ip.NextHeader, ip.Destination.IsMulticast);
            if (chain.HeaderCount > Ipv6HeaderChain.MaxExtensionHeaders) throw new FuzzFinding($"{chain.HeaderCount} headers walked");
            if (chain.Offset < 0 || chain.Offset > payload.Length) throw new FuzzFinding($"chain offset {chain.Offset} outside {payload.Length}");
            if (chain.Outcome == Ipv6ChainOutcome.UpperLayer && chain.NextHeader == Ipv6NextHeader.Icmpv6 && payload.Length - chain.Offset >= 4)
            {
                // Fix the checksum in place (the input array), so both the parsers here and the stack below see a valid one.
                var icmp = input.AsSpan(Ipv6Packet.HeaderLength + chain.Offset, payload.Length - chain.Offset);
                BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
                BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], Ipv6Checksum.Compute(ip.Source, ip.Destination, Ipv6NextHeader.Icmpv6, icmp));
                if (Icmpv6Packet.TryParse(icmp, ip.Source, ip.Destination, out var m, out _) && NdpMessage.IsNdp(m.Type)
                    && NdpMessage.TryParse(m.Bytes, ip.Source, ip.Destination, ip.HopLimit, out var ndp, out _))
                {
                    if (ndp!.Prefixes.Count > NdpMessage.MaxPrefixes) throw new FuzzFinding($"{ndp.Prefixes.Count} prefixes kept");
                    if (ndp.LinkAddress is { Length: not 6 }) throw new FuzzFinding($"link address of {ndp.LinkAddress.Length} bytes");
                }
            }
        }
        var stack = _stack!;
        long before = stack.Dropped(DropReason.InternalError);
        var frame = new byte[EthernetFrame.HeaderLength + input.Length];
        EthernetFrame.SetDestination(frame, Mac);
        EthernetFrame.SetSource(frame, [2, 0, 0, 0, 0, 1]);
        EthernetFrame.SetEtherType(frame, EtherType.Ipv6);
        input.CopyTo(frame, EthernetFrame.HeaderLength);
        stack.InjectFrame(_nic!, frame);
        if (stack.Dropped(DropReason.InternalError) != before) throw new FuzzFinding($"stack internal error: {stack.LastInternalError}");
        if (_nic!.Ipv6.Neighbours.Count > stack.Options.Ipv6NeighbourCacheSize) throw new FuzzFinding("neighbour cache past its bound");
    }
}
