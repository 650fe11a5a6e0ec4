using System.Buffers.Binary;

namespace Photon.Net.Wire;

/// <summary>A prefix information option (RFC 4861 §4.6.2): lifetimes in seconds, <see cref="uint.MaxValue"/> is infinity.</summary>
public readonly record struct NdpPrefix(Ipv6Address Prefix, int PrefixLength, bool OnLink, bool Autonomous, uint ValidLifetime, uint PreferredLifetime);

/// <summary>
/// A validated Neighbor Discovery message (RFC 4861): router solicitation and advertisement, neighbour solicitation and
/// advertisement. <see cref="TryParse"/> applies the receive checks of §6.1 and §7.1 — hop limit 255 (so it cannot come
/// from off-link), code 0, the minimum length, no option of length 0, the address rules — and reads the options with
/// bounds: at most <see cref="MaxOptions"/> options and the first <see cref="MaxPrefixes"/> prefixes kept. The
/// link-layer address options are read for Ethernet only (6 bytes).
/// </summary>
public sealed record NdpMessage(byte Type, Ipv6Address Target, bool Router, bool Solicited, bool Override, byte CurHopLimit,
    ushort RouterLifetime, uint ReachableTime, uint RetransTimer, byte[]? LinkAddress, uint Mtu, IReadOnlyList<NdpPrefix> Prefixes)
{
    public const int MaxOptions = 64, MaxPrefixes = 16;
    public const byte HopLimit = 255;
    public const int NeighborLength = 24, RouterSolicitationLength = 8, RouterAdvertisementLength = 16, LinkAddressOptionLength = 8,
        PrefixOptionLength = 32, MtuOptionLength = 8;
    private const byte SourceLinkAddress = 1, TargetLinkAddress = 2, PrefixInformation = 3, MtuOption = 5;
    private const byte RouterFlag = 0x80, SolicitedFlag = 0x40, OverrideFlag = 0x20, OnLinkFlag = 0x80, AutonomousFlag = 0x40;

    public static bool IsNdp(byte type) => type is Icmpv6Type.RouterSolicitation or Icmpv6Type.RouterAdvertisement
        or Icmpv6Type.NeighborSolicitation or Icmpv6Type.NeighborAdvertisement;

    /// <summary>Parses the ICMPv6 <paramref name="message"/> (checksum already checked) of type RS, RA, NS or NA.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, Ipv6Address src, Ipv6Address dst, byte hopLimit,
        out NdpMessage? ndp, out DropReason error)
    {
        ndp = null;
        error = DropReason.BadNdp;
        if (message.Length < 8 || hopLimit != HopLimit || message[1] != 0) return false;
        byte type = message[0];
        int fixedLength = type switch
        {
            Icmpv6Type.RouterSolicitation => RouterSolicitationLength,
            Icmpv6Type.RouterAdvertisement => RouterAdvertisementLength,
            Icmpv6Type.NeighborSolicitation or Icmpv6Type.NeighborAdvertisement => NeighborLength,
            _ => -1,
        };
        if (fixedLength < 0 || message.Length < fixedLength) return false;
        if (!TryReadOptions(message[fixedLength..], type, out var linkAddress, out var mtu, out var prefixes)) return false;
        var target = fixedLength == NeighborLength ? Ipv6Address.Read(message[8..]) : Ipv6Address.Unspecified;
        byte flags = message[4];
        switch (type)
        {
            case Icmpv6Type.RouterSolicitation when src.IsUnspecified && linkAddress is not null:
            case Icmpv6Type.RouterAdvertisement when !src.IsLinkLocal:
            case Icmpv6Type.NeighborSolicitation or Icmpv6Type.NeighborAdvertisement when target.IsMulticast:
            case Icmpv6Type.NeighborSolicitation when src.IsUnspecified && (dst != target.SolicitedNode || linkAddress is not null):
            case Icmpv6Type.NeighborAdvertisement when dst.IsMulticast && (flags & SolicitedFlag) != 0:
                return false;
        }
        ndp = type == Icmpv6Type.RouterAdvertisement
            ? new NdpMessage(type, target, (flags & RouterFlag) != 0, false, false, message[4],
                BinaryPrimitives.ReadUInt16BigEndian(message[6..]), BinaryPrimitives.ReadUInt32BigEndian(message[8..]),
                BinaryPrimitives.ReadUInt32BigEndian(message[12..]), linkAddress, mtu, prefixes)
            : new NdpMessage(type, target, type == Icmpv6Type.NeighborAdvertisement && (flags & RouterFlag) != 0,
                type == Icmpv6Type.NeighborAdvertisement && (flags & SolicitedFlag) != 0,
                type == Icmpv6Type.NeighborAdvertisement && (flags & OverrideFlag) != 0, 0, 0, 0, 0, linkAddress, 0, prefixes);
        return true;
    }

    private static bool TryReadOptions(ReadOnlySpan<byte> options, byte type, out byte[]? linkAddress, out uint mtu, out IReadOnlyList<NdpPrefix> prefixes)
    {
        linkAddress = null;
        mtu = 0;
        prefixes = [];
        List<NdpPrefix>? found = null;
        // The link-layer option a message carries: the sender's, except in an advertisement, which names the target's.
        byte wanted = type == Icmpv6Type.NeighborAdvertisement ? TargetLinkAddress : SourceLinkAddress;
        for (int at = 0, count = 0; at < options.Length; count++)
        {
            if (count == MaxOptions || options.Length - at < 2) return false;
            int length = options[at + 1] * 8;
            if (length == 0 || options.Length - at < length) return false; // §4.6: length 0 — the whole message is invalid
            var option = options.Slice(at, length);
            switch (option[0])
            {
                case SourceLinkAddress or TargetLinkAddress when option[0] == wanted:
                    if (length != LinkAddressOptionLength) return false;
                    linkAddress ??= option.Slice(2, 6).ToArray();
                    break;
                case PrefixInformation when type == Icmpv6Type.RouterAdvertisement:
                    if (length != PrefixOptionLength || option[2] > 128) return false;
                    if ((found ??= new()).Count < MaxPrefixes)
                        found.Add(new NdpPrefix(Ipv6Cidr.Mask(Ipv6Address.Read(option[16..]), option[2]), option[2],
                            (option[3] & OnLinkFlag) != 0, (option[3] & AutonomousFlag) != 0,
                            BinaryPrimitives.ReadUInt32BigEndian(option[4..]), BinaryPrimitives.ReadUInt32BigEndian(option[8..])));
                    break;
                case MtuOption when type == Icmpv6Type.RouterAdvertisement:
                    if (length != MtuOptionLength) return false;
                    mtu = BinaryPrimitives.ReadUInt32BigEndian(option[4..]);
                    break;
                // Anything else is skipped, as §4.6 requires of options a receiver does not know.
            }
            at += length;
        }
        if (found is not null) prefixes = found;
        return true;
    }

    // ---- emitting (the ICMPv6 checksum is filled by the sender, which knows the addresses) ----

    public static int NeighborSolicitationLength(bool withSource) => NeighborLength + (withSource ? LinkAddressOptionLength : 0);

    /// <summary>A neighbour solicitation for <paramref name="target"/>; <paramref name="sourceMac"/> null for DAD (from ::).</summary>
    public static void EmitNeighborSolicitation(Span<byte> message, Ipv6Address target, ReadOnlySpan<byte> sourceMac)
    {
        message[..NeighborLength].Clear();
        message[0] = Icmpv6Type.NeighborSolicitation;
        target.Write(message[8..]);
        if (!sourceMac.IsEmpty) WriteLinkAddress(message[NeighborLength..], SourceLinkAddress, sourceMac);
    }

    public const int NeighborAdvertisementLength = NeighborLength + LinkAddressOptionLength;

    public static void EmitNeighborAdvertisement(Span<byte> message, Ipv6Address target, bool router, bool solicited, bool @override,
        ReadOnlySpan<byte> targetMac)
    {
        message[..NeighborLength].Clear();
        message[0] = Icmpv6Type.NeighborAdvertisement;
        message[4] = (byte)((router ? RouterFlag : 0) | (solicited ? SolicitedFlag : 0) | (@override ? OverrideFlag : 0));
        target.Write(message[8..]);
        WriteLinkAddress(message[NeighborLength..], TargetLinkAddress, targetMac);
    }

    public static int RouterSolicitationSize(bool withSource) => RouterSolicitationLength + (withSource ? LinkAddressOptionLength : 0);

    public static void EmitRouterSolicitation(Span<byte> message, ReadOnlySpan<byte> sourceMac)
    {
        message[..RouterSolicitationLength].Clear();
        message[0] = Icmpv6Type.RouterSolicitation;
        if (!sourceMac.IsEmpty) WriteLinkAddress(message[RouterSolicitationLength..], SourceLinkAddress, sourceMac);
    }

    public static int RouterAdvertisementSize(int prefixes, bool withMtu, bool withSource) => RouterAdvertisementLength
        + prefixes * PrefixOptionLength + (withMtu ? MtuOptionLength : 0) + (withSource ? LinkAddressOptionLength : 0);

    /// <summary>A router advertisement (what a router sends; Photon only parses them, tests and the fuzz seeds emit them).</summary>
    public static void EmitRouterAdvertisement(Span<byte> message, byte curHopLimit, ushort routerLifetime, IReadOnlyList<NdpPrefix> prefixes,
        uint mtu, ReadOnlySpan<byte> sourceMac)
    {
        message[..RouterAdvertisementLength].Clear();
        message[0] = Icmpv6Type.RouterAdvertisement;
        message[4] = curHopLimit;
        BinaryPrimitives.WriteUInt16BigEndian(message[6..], routerLifetime);
        int at = RouterAdvertisementLength;
        foreach (var p in prefixes)
        {
            var o = message.Slice(at, PrefixOptionLength);
            o.Clear();
            o[0] = PrefixInformation;
            o[1] = PrefixOptionLength / 8;
            o[2] = (byte)p.PrefixLength;
            o[3] = (byte)((p.OnLink ? OnLinkFlag : 0) | (p.Autonomous ? AutonomousFlag : 0));
            BinaryPrimitives.WriteUInt32BigEndian(o[4..], p.ValidLifetime);
            BinaryPrimitives.WriteUInt32BigEndian(o[8..], p.PreferredLifetime);
            p.Prefix.Write(o[16..]);
            at += PrefixOptionLength;
        }
        if (mtu != 0)
        {
            var o = message.Slice(at, MtuOptionLength);
            o.Clear();
            o[0] = MtuOption;
            o[1] = 1;
            BinaryPrimitives.WriteUInt32BigEndian(o[4..], mtu);
            at += MtuOptionLength;
        }
        if (!sourceMac.IsEmpty) WriteLinkAddress(message[at..], SourceLinkAddress, sourceMac);
    }

    private static void WriteLinkAddress(Span<byte> option, byte type, ReadOnlySpan<byte> mac)
    {
        option[0] = type;
        option[1] = LinkAddressOptionLength / 8;
        mac.CopyTo(option[2..]);
    }
}
