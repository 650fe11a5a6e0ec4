using System.Buffers.Binary;

namespace Photon.Net.Dhcp;

public enum DhcpMessageType : byte { Discover = 1, Offer = 2, Request = 3, Decline = 4, Ack = 5, Nak = 6, Release = 7, Inform = 8 }

/// <summary>A server's OFFER, ACK or NAK as the client reads it: the address offered, the server that offered it, and
/// the configuration options a client uses (RFC 2132), already checked (a contiguous mask, at most
/// <see cref="DhcpMessage.MaxDnsServers"/> DNS servers, T1 ≤ T2 ≤ lease).</summary>
public sealed record DhcpReply(
    DhcpMessageType Type, uint TransactionId, Ipv4Address YourAddress, Ipv4Address ServerId, int PrefixLength,
    Ipv4Address? Router, IReadOnlyList<Ipv4Address> DnsServers, TimeSpan LeaseTime, TimeSpan RenewTime, TimeSpan RebindTime);

/// <summary>
/// DHCPv4 messages (RFC 2131 §2, §4.3.1 option rules, RFC 2132 options). The client's messages are built here
/// (DISCOVER, REQUEST while selecting and while renewing or rebinding, DECLINE, RELEASE); a server's reply is taken only
/// if it is a BOOTREPLY for this client's hardware address and transaction ID with the magic cookie. Option parsing is
/// bounded by the message (every length checked before it is read, pad and end honoured, at most one pass over the
/// field; the sname/file overload of option 52 is not followed), and every malformed or inconsistent reply is a
/// <see cref="ErrorCode.Corrupted"/> error, never an exception.
/// </summary>
public static class DhcpMessage
{
    public const ushort ServerPort = 67, ClientPort = 68;
    public const int FixedLength = 236;
    public const int MaxDnsServers = 3;
    private const int CookieOffset = FixedLength, OptionsOffset = FixedLength + 4;
    private const uint MagicCookie = 0x63825363;
    private const byte BootRequest = 1, BootReply = 2, Ethernet = 1;
    private const ushort BroadcastFlag = 0x8000;
    /// <summary>A lease time of all ones is a lease that never ends (RFC 2132 §9.2).</summary>
    private const uint Infinite = uint.MaxValue;

    private static class Option
    {
        public const byte Pad = 0, SubnetMask = 1, Router = 3, DnsServers = 6, HostName = 12, RequestedAddress = 50, LeaseTime = 51,
            MessageType = 53, ServerId = 54, ParameterRequests = 55, MaxMessageSize = 57, RenewTime = 58, RebindTime = 59, ClientId = 61, End = 255;
    }

    public static Result<byte[]> Discover(uint xid, ReadOnlySpan<byte> mac) => Build(DhcpMessageType.Discover, xid, mac, Ipv4Address.Any, null, null);

    /// <summary>REQUEST while selecting (after an OFFER): names the offered address and the server chosen, sent broadcast.</summary>
    public static Result<byte[]> RequestSelecting(uint xid, ReadOnlySpan<byte> mac, Ipv4Address offered, Ipv4Address server) =>
        Build(DhcpMessageType.Request, xid, mac, Ipv4Address.Any, offered, server);

    /// <summary>REQUEST while renewing (unicast to the server) or rebinding (broadcast): the lease's address in ciaddr,
    /// no server identifier, no requested address (RFC 2131 §4.3.2).</summary>
    public static Result<byte[]> RequestRenewing(uint xid, ReadOnlySpan<byte> mac, Ipv4Address current) =>
        Build(DhcpMessageType.Request, xid, mac, current, null, null);

    /// <summary>DECLINE: the offered address is in use by someone else (an ARP probe was answered).</summary>
    public static Result<byte[]> Decline(uint xid, ReadOnlySpan<byte> mac, Ipv4Address address, Ipv4Address server) =>
        Build(DhcpMessageType.Decline, xid, mac, Ipv4Address.Any, address, server);

    public static Result<byte[]> Release(uint xid, ReadOnlySpan<byte> mac, Ipv4Address address, Ipv4Address server) =>
        Build(DhcpMessageType.Release, xid, mac, address, null, server);

    private static Result<byte[]> Build(DhcpMessageType type, uint xid, ReadOnlySpan<byte> mac, Ipv4Address clientAddress, Ipv4Address? requested, Ipv4Address? server)
    {
        if (mac.Length != 6) return Errors.Of(ErrorCode.InvalidArgument, "an Ethernet address is 6 bytes");
        var options = new List<byte>(64) { Option.MessageType, 1, (byte)type };
        if (requested is { } r) AddAddress(options, Option.RequestedAddress, r);
        if (server is { } s) AddAddress(options, Option.ServerId, s);
        options.AddRange([Option.ClientId, 7, Ethernet, .. mac]);
        if (type is DhcpMessageType.Discover or DhcpMessageType.Request)
        {
            options.AddRange([Option.ParameterRequests, 6, Option.SubnetMask, Option.Router, Option.DnsServers, Option.LeaseTime, Option.RenewTime, Option.RebindTime]);
            options.AddRange([Option.MaxMessageSize, 2, 0x05, 0xDC]); // 1500
        }
        options.Add(Option.End);
        var m = new byte[OptionsOffset + options.Count];
        m[0] = BootRequest;
        m[1] = Ethernet;
        m[2] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(4), xid);
        // Broadcast flag: before it has an address the client cannot take a unicast reply to the offered address.
        if (clientAddress == Ipv4Address.Any) BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(10), BroadcastFlag);
        clientAddress.Write(m.AsSpan(12));
        mac.CopyTo(m.AsSpan(28));
        BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(CookieOffset), MagicCookie);
        options.CopyTo(m, OptionsOffset);
        return m;
    }

    private static void AddAddress(List<byte> options, byte code, Ipv4Address a)
    {
        Span<byte> b = stackalloc byte[4];
        a.Write(b);
        options.AddRange([code, 4, .. b]);
    }

    /// <summary>The server's reply to transaction <paramref name="xid"/> of the client with <paramref name="mac"/>.</summary>
    public static Result<DhcpReply> ParseReply(ReadOnlySpan<byte> m, uint xid, ReadOnlySpan<byte> mac)
    {
        if (m.Length < OptionsOffset) return Errors.Of(ErrorCode.Corrupted, "shorter than a DHCP message");
        if (m[0] != BootReply) return Errors.Of(ErrorCode.Corrupted, "not a BOOTREPLY");
        if (m[1] != Ethernet || m[2] != 6) return Errors.Of(ErrorCode.Corrupted, "not for an Ethernet client");
        if (BinaryPrimitives.ReadUInt32BigEndian(m[4..]) != xid) return Errors.Of(ErrorCode.Corrupted, "transaction ID does not match");
        if (!m.Slice(28, 6).SequenceEqual(mac)) return Errors.Of(ErrorCode.Corrupted, "reply for another hardware address");
        if (BinaryPrimitives.ReadUInt32BigEndian(m[CookieOffset..]) != MagicCookie) return Errors.Of(ErrorCode.Corrupted, "no DHCP magic cookie");

        DhcpMessageType? type = null;
        uint? mask = null, lease = null, renew = null, rebind = null;
        Ipv4Address? server = null, router = null;
        var dns = new List<Ipv4Address>(MaxDnsServers);
        bool ended = false;
        for (int at = OptionsOffset; at < m.Length && !ended;)
        {
            byte code = m[at++];
            if (code == Option.Pad) continue;
            if (code == Option.End) { ended = true; break; }
            if (at >= m.Length) return Errors.Of(ErrorCode.Corrupted, $"option {code} has no length");
            int len = m[at++];
            if (at + len > m.Length) return Errors.Of(ErrorCode.Corrupted, $"option {code} runs past the end of the message");
            var data = m.Slice(at, len);
            at += len;
            switch (code)
            {
                case Option.MessageType:
                    if (len != 1 || data[0] is 0 or > 8) return Errors.Of(ErrorCode.Corrupted, "bad DHCP message type option");
                    type ??= (DhcpMessageType)data[0];
                    break;
                case Option.SubnetMask: mask ??= Uint(data); if (mask is null) return Bad("subnet mask"); break;
                case Option.LeaseTime: lease ??= Uint(data); if (lease is null) return Bad("lease time"); break;
                case Option.RenewTime: renew ??= Uint(data); if (renew is null) return Bad("renewal (T1) time"); break;
                case Option.RebindTime: rebind ??= Uint(data); if (rebind is null) return Bad("rebinding (T2) time"); break;
                case Option.ServerId:
                    if (len != 4) return Bad("server identifier");
                    server ??= Ipv4Address.Read(data);
                    break;
                case Option.Router:
                    if (len == 0 || len % 4 != 0) return Bad("router");
                    router ??= Ipv4Address.Read(data);
                    break;
                case Option.DnsServers:
                    if (len == 0 || len % 4 != 0) return Bad("DNS servers");
                    for (int i = 0; i < len && dns.Count < MaxDnsServers; i += 4) dns.Add(Ipv4Address.Read(data[i..]));
                    break;
                // Every other option is skipped by its length.
            }
        }
        if (!ended) return Errors.Of(ErrorCode.Corrupted, "options do not end with the end option");
        if (type is not { } t) return Errors.Of(ErrorCode.Corrupted, "no DHCP message type");
        if (t is not (DhcpMessageType.Offer or DhcpMessageType.Ack or DhcpMessageType.Nak)) return Errors.Of(ErrorCode.Corrupted, $"a client does not take a {t}");
        if (server is not { } sid) return Errors.Of(ErrorCode.Corrupted, $"{t} without a server identifier");
        var yours = Ipv4Address.Read(m[16..]);
        if (t == DhcpMessageType.Nak) return new DhcpReply(t, xid, yours, sid, 0, null, [], TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero);

        if (yours == Ipv4Address.Any || yours == Ipv4Address.Broadcast || (yours.Value >> 28) is 14 or 15 || (yours.Value >> 24) is 0 or 127)
            return Errors.Of(ErrorCode.Corrupted, $"offered address {yours} is not a unicast host address");
        if (lease is not { } leaseSeconds || leaseSeconds == 0) return Errors.Of(ErrorCode.Corrupted, $"{t} without a lease time");
        int prefix = 24;
        if (mask is { } mk)
        {
            prefix = System.Numerics.BitOperations.PopCount(mk);
            // Contiguous ones from the top, and a subnet with room for a host (RFC 950): /1../30.
            if ((prefix == 0 ? 0u : uint.MaxValue << (32 - prefix)) != mk || prefix is 0 or > 30)
                return Errors.Of(ErrorCode.Corrupted, $"subnet mask {new Ipv4Address(mk)} is not usable");
        }
        else prefix = DefaultPrefix(yours);
        var leaseTime = leaseSeconds == Infinite ? TimeSpan.MaxValue : TimeSpan.FromSeconds(leaseSeconds);
        // T1 and T2 default to 0.5 and 0.875 of the lease (RFC 2131 §4.4.5); values out of order fall back to those.
        var t1 = leaseSeconds == Infinite ? TimeSpan.MaxValue : TimeSpan.FromSeconds(leaseSeconds * 0.5);
        var t2 = leaseSeconds == Infinite ? TimeSpan.MaxValue : TimeSpan.FromSeconds(leaseSeconds * 0.875);
        if (leaseSeconds != Infinite && renew is { } r1 && rebind is { } r2 && r1 <= r2 && r2 <= leaseSeconds)
        {
            t1 = TimeSpan.FromSeconds(r1);
            t2 = TimeSpan.FromSeconds(r2);
        }
        if (router is { } gw && (gw == Ipv4Address.Any || !SameSubnet(gw, yours, prefix))) router = null; // unusable: ignored, not fatal
        return new DhcpReply(t, xid, yours, sid, prefix, router, dns.Where(d => d != Ipv4Address.Any && d != Ipv4Address.Broadcast).ToList(), leaseTime, t1, t2);

        static KernelError Bad(string what) => Errors.Of(ErrorCode.Corrupted, $"bad {what} option");
    }

    private static uint? Uint(ReadOnlySpan<byte> data) => data.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(data) : null;

    private static bool SameSubnet(Ipv4Address a, Ipv4Address b, int prefix) => (a.Value ^ b.Value) >> (32 - prefix) == 0;

    /// <summary>The classful prefix, for a server that sends no mask (RFC 2131 leaves it to the client).</summary>
    private static int DefaultPrefix(Ipv4Address a) => (a.Value >> 24) switch { < 128 => 8, < 192 => 16, _ => 24 };
}
