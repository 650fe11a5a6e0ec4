using System.Buffers.Binary;

namespace Photon.Kernel.Drivers.Net;

/// <summary>
/// The flow hash that steers frames to TX queues (and that RSS-style devices use to pick an RX queue): IPv4/IPv6 source
/// and destination, protocol and, for TCP/UDP (and not IPv4 fragments), ports; for other EtherTypes the MAC addresses
/// and EtherType. The driver sits below the network stack, so it reads the few header fields it needs itself.
/// </summary>
public static class FlowHash
{
    private const int EthernetHeader = 14, VlanTag = 4;
    private const ushort EtherIpv4 = 0x0800, EtherIpv6 = 0x86DD, EtherVlan = 0x8100;
    private const byte Tcp = 6, Udp = 17;

    public static uint Of(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeader) return 0;
        int l3 = EthernetHeader;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        if (type == EtherVlan && frame.Length >= EthernetHeader + VlanTag)
        {
            type = BinaryPrimitives.ReadUInt16BigEndian(frame[16..]);
            l3 = EthernetHeader + VlanTag;
        }
        var ip = frame[l3..];
        uint h = 2166136261;
        if (type == EtherIpv4 && ip.Length >= 20 && ip[0] >> 4 == 4)
        {
            int ihl = (ip[0] & 15) * 4;
            byte proto = ip[9];
            h = Mix(h, ip.Slice(12, 8));              // source and destination address
            h = Mix(h, [proto]);
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0;
            if (!fragment && proto is Tcp or Udp && ihl >= 20 && ip.Length >= ihl + 4) h = Mix(h, ip.Slice(ihl, 4)); // ports
        }
        else if (type == EtherIpv6 && ip.Length >= 40)
        {
            byte next = ip[6];
            h = Mix(h, ip.Slice(8, 32));
            h = Mix(h, [next]);
            if (next is Tcp or Udp && ip.Length >= 44) h = Mix(h, ip.Slice(40, 4));
        }
        else h = Mix(h, frame[..EthernetHeader]);
        // murmur3 finalizer: spread FNV's low bits so "% queues" is even
        h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16;
        return h;
    }

    private static uint Mix(uint h, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes) h = (h ^ b) * 16777619;
        return h;
    }
}
