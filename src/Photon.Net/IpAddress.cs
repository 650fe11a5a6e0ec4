using System.Globalization;

namespace Photon.Net;

public enum IpFamily : byte { V4 = 4, V6 = 6 }

/// <summary>
/// An IPv4 or IPv6 address as one value: 128 bits in two host-order halves and the family. IPv4 is its own family (the
/// low 32 bits), never v4-mapped, so 10.0.0.1 and ::ffff:10.0.0.1 are different endpoints and nothing v4-mapped goes on
/// a wire. Compares and hashes without allocating, so TCP and UDP demux keep one key type for both families.
/// </summary>
public readonly struct IpAddress : IEquatable<IpAddress>
{
    private readonly ulong _high, _low;

    private IpAddress(ulong high, ulong low, IpFamily family)
    {
        _high = high;
        _low = low;
        Family = family;
    }

    public IpFamily Family { get; }
    public bool IsV6 => Family == IpFamily.V6;

    /// <summary>The IPv4 address (only meaningful when <see cref="Family"/> is V4).</summary>
    public Ipv4Address V4 => new((uint)_low);
    /// <summary>The IPv6 address (only meaningful when <see cref="Family"/> is V6).</summary>
    public Ipv6Address V6 => new(_high, _low);

    /// <summary>0.0.0.0 or ::.</summary>
    public bool IsUnspecified => _high == 0 && _low == 0;
    public bool IsMulticast => IsV6 ? V6.IsMulticast : V4.IsMulticast;

    public static implicit operator IpAddress(Ipv4Address a) => new(0, a.Value, IpFamily.V4);
    public static implicit operator IpAddress(Ipv6Address a) => new(a.High, a.Low, IpFamily.V6);

    /// <summary>Either text form: dotted IPv4, or IPv6 (brackets allowed, as in URLs).</summary>
    public static Result<IpAddress> Parse(string? text)
    {
        if (text is { Length: > 2 } && text[0] == '[' && text[^1] == ']') text = text[1..^1];
        if (text is not null && text.Contains(':'))
        {
            var v6 = Ipv6Address.Parse(text);
            return v6.IsOk ? (IpAddress)v6.Value : v6.Error;
        }
        var v4 = Ipv4Address.Parse(text);
        return v4.IsOk ? (IpAddress)v4.Value : v4.Error;
    }

    public bool Equals(IpAddress other) => _low == other._low && _high == other._high && Family == other.Family;
    public override bool Equals(object? obj) => obj is IpAddress a && Equals(a);
    // The low half carries all of an IPv4 address and the interface identifier of an IPv6 one: mix the rest in cheaply.
    public override int GetHashCode() => (int)(_low ^ _low >> 32) ^ (int)(_high * 0x9E3779B97F4A7C15UL >> 32) ^ (int)Family;
    public static bool operator ==(IpAddress a, IpAddress b) => a.Equals(b);
    public static bool operator !=(IpAddress a, IpAddress b) => !a.Equals(b);

    /// <summary>The address as it goes on the wire: 4 or 16 bytes.</summary>
    public int Write(Span<byte> into)
    {
        if (IsV6) { V6.Write(into); return Ipv6Address.Length; }
        V4.Write(into);
        return 4;
    }

    public override string ToString() => IsV6 ? V6.ToString() : V4.ToString();
}

/// <summary>An address of either family and a port.</summary>
public readonly record struct IpEndpoint(IpAddress Address, ushort Port)
{
    public override string ToString() => Address.IsV6 ? $"[{Address}]:{Port}" : $"{Address}:{Port}";

    /// <summary><c>10.0.0.1:80</c> or <c>[fd00::1]:80</c>.</summary>
    public static Result<IpEndpoint> Parse(string? text)
    {
        var colon = text?.LastIndexOf(':') ?? -1;
        if (text is null || colon < 0) return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' is not address:port");
        var host = text[..colon];
        if (host.Contains(':') && !(host.StartsWith('[') && host.EndsWith(']')))
            return Errors.Of(ErrorCode.InvalidArgument, $"'{text}': an IPv6 address with a port needs brackets, [addr]:port");
        var ip = IpAddress.Parse(host);
        if (!ip.IsOk) return ip.Error;
        if (!ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port == 0)
            return Errors.Of(ErrorCode.InvalidArgument, $"'{text}' has a bad port");
        return new IpEndpoint(ip.Value, port);
    }
}
