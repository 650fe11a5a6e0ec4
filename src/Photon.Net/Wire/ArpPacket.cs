using System.Buffers.Binary;

namespace Photon.Net.Wire;

public enum ArpOperation : ushort { Request = 1, Reply = 2 }

/// <summary>A checked view of an ARP packet for IPv4 over Ethernet (RFC 826): anything else is <see cref="DropReason.BadArp"/>.</summary>
public readonly ref struct ArpPacket
{
    public const int Length = 28;
    private const int HardwareTypeAt = 0, ProtocolTypeAt = 2, HardwareLengthAt = 4, ProtocolLengthAt = 5, OperationAt = 6,
        SenderMacAt = 8, SenderIpAt = 14, TargetMacAt = 18, TargetIpAt = 24;
    private const ushort Ethernet = 1;

    private readonly ReadOnlySpan<byte> _buffer;

    private ArpPacket(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out ArpPacket packet, out DropReason error)
    {
        packet = default;
        error = DropReason.Truncated;
        if (buffer.Length < Length) return false;
        error = DropReason.BadArp;
        if (BinaryPrimitives.ReadUInt16BigEndian(buffer[HardwareTypeAt..]) != Ethernet
            || BinaryPrimitives.ReadUInt16BigEndian(buffer[ProtocolTypeAt..]) != EtherType.Ipv4
            || buffer[HardwareLengthAt] != EthernetFrame.AddressLength || buffer[ProtocolLengthAt] != Ipv4Packet.AddressLength)
            return false;
        var op = BinaryPrimitives.ReadUInt16BigEndian(buffer[OperationAt..]);
        if (op is not ((ushort)ArpOperation.Request or (ushort)ArpOperation.Reply)) return false;
        packet = new ArpPacket(buffer);
        return true;
    }

    public ArpOperation Operation => (ArpOperation)BinaryPrimitives.ReadUInt16BigEndian(_buffer[OperationAt..]);
    public ReadOnlySpan<byte> SenderMac => _buffer.Slice(SenderMacAt, EthernetFrame.AddressLength);
    public Ipv4Address SenderIp => Ipv4Address.Read(_buffer[SenderIpAt..]);
    public ReadOnlySpan<byte> TargetMac => _buffer.Slice(TargetMacAt, EthernetFrame.AddressLength);
    public Ipv4Address TargetIp => Ipv4Address.Read(_buffer[TargetIpAt..]);

    /// <summary>Writes an ARP packet (Ethernet/IPv4) into <paramref name="buffer"/> (at least <see cref="Length"/> bytes).</summary>
    public static void Emit(Span<byte> buffer, ArpOperation op, ReadOnlySpan<byte> senderMac, Ipv4Address senderIp,
        ReadOnlySpan<byte> targetMac, Ipv4Address targetIp)
    {
        BinaryPrimitives.WriteUInt16BigEndian(buffer[HardwareTypeAt..], Ethernet);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[ProtocolTypeAt..], EtherType.Ipv4);
        buffer[HardwareLengthAt] = EthernetFrame.AddressLength;
        buffer[ProtocolLengthAt] = Ipv4Packet.AddressLength;
        BinaryPrimitives.WriteUInt16BigEndian(buffer[OperationAt..], (ushort)op);
        senderMac.CopyTo(buffer[SenderMacAt..]);
        senderIp.Write(buffer[SenderIpAt..]);
        targetMac.CopyTo(buffer[TargetMacAt..]);
        targetIp.Write(buffer[TargetIpAt..]);
    }
}
