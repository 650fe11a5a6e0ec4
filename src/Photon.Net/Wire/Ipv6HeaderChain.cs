using System.Buffers.Binary;

namespace Photon.Net.Wire;

/// <summary>IPv6 next-header values (IANA "Assigned Internet Protocol Numbers").</summary>
public static class Ipv6NextHeader
{
    public const byte HopByHop = 0, Tcp = 6, Udp = 17, Routing = 43, Fragment = 44, Icmpv6 = 58, NoNextHeader = 59, DestinationOptions = 60;

    /// <summary>The extension headers Photon walks (RFC 8200 §4); anything else ends the chain as an upper layer.</summary>
    public static bool IsExtension(byte nextHeader) => nextHeader is HopByHop or Routing or Fragment or DestinationOptions;
}

/// <summary>What walking a chain found.</summary>
public enum Ipv6ChainOutcome
{
    /// <summary>The upper-layer header starts at <see cref="Ipv6HeaderChain.Offset"/>.</summary>
    UpperLayer,
    /// <summary>A (non-atomic) fragment: its data starts at <see cref="Ipv6HeaderChain.Offset"/>; what follows is only
    /// meaningful after reassembly.</summary>
    Fragment,
    /// <summary>Drop silently, counting <see cref="Ipv6HeaderChain.Why"/>.</summary>
    Drop,
    /// <summary>Drop and answer with an ICMPv6 parameter problem (<see cref="Ipv6HeaderChain.ProblemCode"/>,
    /// <see cref="Ipv6HeaderChain.ProblemPointer"/>).</summary>
    ParameterProblem,
}

/// <summary>
/// The walk of an IPv6 extension header chain (RFC 8200 §4) from the fixed header's next header to the upper layer, with
/// limits so that hostile chains cost little: at most <see cref="MaxExtensionHeaders"/> headers, at most
/// <see cref="MaxOptionsPerHeader"/> options and <see cref="MaxPadding"/> bytes of consecutive padding per options header
/// (Linux's <c>max_hbh_opts_cnt</c>/<c>max_dst_opts_cnt</c> and its padding rule), every length checked against the
/// packet. Each header is at least 8 bytes long, so the walk always moves forward and ends. Hop-by-hop options only
/// directly after the fixed header; a routing header with segments left is refused (a host forwards nothing, and type 0
/// is deprecated by RFC 5095); unknown options act on their two high-order type bits (§4.2); an atomic fragment
/// (offset 0, M 0) is processed in place (RFC 6946).
/// </summary>
public readonly record struct Ipv6HeaderChain(Ipv6ChainOutcome Outcome, byte NextHeader, int Offset, int HeaderCount,
    DropReason Why = default, byte ProblemCode = 0, int ProblemPointer = 0,
    int FragmentOffset = 0, bool MoreFragments = false, uint FragmentId = 0, int FragmentHeaderAt = -1)
{
    public const int MaxExtensionHeaders = 8, MaxOptionsPerHeader = 8, MaxPadding = 7;

    /// <summary>Parameter problem codes (RFC 4443 §3.4).</summary>
    public const byte ErroneousField = 0, UnrecognizedNextHeader = 1, UnrecognizedOption = 2;

    private const byte Pad1 = 0, PadN = 1, RouterAlert = 5;

    /// <summary>Walks <paramref name="payload"/> (what follows the fixed header) starting with
    /// <paramref name="firstNextHeader"/>. Problem pointers count from the start of the fixed header, as ICMPv6 wants.</summary>
    public static Ipv6HeaderChain Walk(ReadOnlySpan<byte> payload, byte firstNextHeader, bool toMulticast)
    {
        byte next = firstNextHeader;
        int at = 0, count = 0;
        int namedAt = Ipv6Packet.NextHeaderOffset; // the field that named `next`
        while (Ipv6NextHeader.IsExtension(next))
        {
            if (count == MaxExtensionHeaders) return Dropped(DropReason.BadExtensionHeader, next, at, count);
            if (next == Ipv6NextHeader.HopByHop && count != 0)
                return Problem(UnrecognizedNextHeader, namedAt, next, at, count);
            if (payload.Length - at < 8) return Dropped(DropReason.Truncated, next, at, count);
            count++;
            int length = next == Ipv6NextHeader.Fragment ? 8 : (payload[at + 1] + 1) * 8;
            if (payload.Length - at < length) return Dropped(DropReason.Truncated, next, at, count);
            var header = payload.Slice(at, length);
            int pointerBase = Ipv6Packet.HeaderLength + at;
            switch (next)
            {
                case Ipv6NextHeader.HopByHop or Ipv6NextHeader.DestinationOptions:
                    var options = WalkOptions(header[2..], pointerBase + 2, toMulticast);
                    if (options is { } bad) return bad with { NextHeader = next, Offset = at, HeaderCount = count };
                    break;
                case Ipv6NextHeader.Routing when header[3] != 0: // segments left: we would have to forward it
                    return Problem(ErroneousField, pointerBase + 2, next, at, count);
                case Ipv6NextHeader.Fragment:
                    ushort field = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
                    int fragmentOffset = (field >> 3) * 8;
                    bool more = (field & 1) != 0;
                    uint id = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
                    if (fragmentOffset != 0 || more)
                        return new Ipv6HeaderChain(Ipv6ChainOutcome.Fragment, header[0], at + 8, count,
                            FragmentOffset: fragmentOffset, MoreFragments: more, FragmentId: id, FragmentHeaderAt: at);
                    break; // atomic: the rest of the chain is right here
            }
            namedAt = Ipv6Packet.HeaderLength + at;
            next = header[0];
            at += length;
        }
        return new Ipv6HeaderChain(Ipv6ChainOutcome.UpperLayer, next, at, count) { ProblemPointer = namedAt };
    }

    /// <summary>Options of a hop-by-hop or destination options header (RFC 8200 §4.2); null when they all pass.</summary>
    private static Ipv6HeaderChain? WalkOptions(ReadOnlySpan<byte> options, int pointerBase, bool toMulticast)
    {
        int at = 0, seen = 0, padding = 0;
        while (at < options.Length)
        {
            byte type = options[at];
            if (type == Pad1)
            {
                if (++padding > MaxPadding) return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
                at++;
                continue;
            }
            if (options.Length - at < 2) return Dropped(DropReason.Truncated, 0, 0, 0);
            int length = options[at + 1];
            if (options.Length - at - 2 < length) return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
            if (type == PadN)
            {
                padding += 2 + length;
                if (padding > MaxPadding) return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
            }
            else
            {
                padding = 0;
                if (++seen > MaxOptionsPerHeader) return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
                if (type != RouterAlert)
                    switch (type >> 6)
                    {
                        case 0: break; // skip over it
                        case 1: return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
                        case 3 when toMulticast: return Dropped(DropReason.BadExtensionHeader, 0, 0, 0);
                        default: return Problem(UnrecognizedOption, pointerBase + at, 0, 0, 0);
                    }
            }
            at += 2 + length;
        }
        return null;
    }

    private static Ipv6HeaderChain Dropped(DropReason why, byte next, int at, int count) =>
        new(Ipv6ChainOutcome.Drop, next, at, count, why);

    private static Ipv6HeaderChain Problem(byte code, int pointer, byte next, int at, int count) =>
        new(Ipv6ChainOutcome.ParameterProblem, next, at, count, DropReason.BadExtensionHeader, code, pointer);
}
