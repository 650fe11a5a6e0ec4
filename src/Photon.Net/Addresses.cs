using System.Buffers.Binary;
using System.Globalization;

namespace Photon.Net;

/// <summary>An IPv4 address in host order.</summary>
public readonly record struct Ipv4Address(uint Value)
{
    public static readonly Ipv4Address Any = new(0);
    public static readonly Ipv4Address Broadcast = new(0xFFFFFFFF);

    public static Result<Ipv4Address> Parse(string? text)
    {
        var parts = text?.Split('.') ?? [];
        if (parts.Length != 4) return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not an IPv4 address");
        uint v = 0;
        foreach (var p in parts)
        {
            if (p.Length is 0 or > 3 || !byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var b))
                return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not an IPv4 address");
            v = (v << 8) | b;
        }
        return new Ipv4Address(v);
    }

    public static Ipv4Address Read(ReadOnlySpan<byte> s) => new(BinaryPrimitives.ReadUInt32BigEndian(s));
    public void Write(Span<byte> s) => BinaryPrimitives.WriteUInt32BigEndian(s, Value);
    public bool InSubnet(Ipv4Address network, int prefix) => prefix == 0 || (Value >> (32 - prefix)) == (network.Value >> (32 - prefix));
    public override string ToString() => $"{Value >> 24}.{(Value >> 16) & 255}.{(Value >> 8) & 255}.{Value & 255}";
}

public static class Mac
{
    public static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    public static string Format(ReadOnlySpan<byte> mac) => Convert.ToHexString(mac).ToLowerInvariant() is var h
        ? string.Join(':', Enumerable.Range(0, mac.Length).Select(i => h.Substring(i * 2, 2))) : "";
}

/// <summary>The Internet checksum (RFC 1071).</summary>
public static class InternetChecksum
{
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        int i = 0;
        for (; i + 1 < data.Length; i += 2) sum += (uint)(data[i] << 8 | data[i + 1]);
        if (i < data.Length) sum += (uint)(data[i] << 8);
        while (sum >> 16 != 0) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
