using System.Globalization;

namespace Photon.Kernel.Hal.Pci;

/// <summary>A PCI function's location, written as Linux does (<c>0000:00:04.0</c>: domain, bus, device, function).</summary>
public readonly record struct PciAddress(ushort Domain, byte Bus, byte Device, byte Function)
{
    public override string ToString() => $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x1}";

    /// <summary>Parses <c>DDDD:BB:DD.F</c>; <c>InvalidArgument</c> for anything else (the text may come from sysfs or a user).</summary>
    public static Result<PciAddress> Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 3 || parts[2].Length < 3 || parts[2][^2] != '.')
            return Result<PciAddress>.Fail(ErrorCode.InvalidArgument, $"not a PCI address: '{text}'");
        if (!ushort.TryParse(parts[0], NumberStyles.HexNumber, null, out var domain)
            || !byte.TryParse(parts[1], NumberStyles.HexNumber, null, out var bus)
            || !byte.TryParse(parts[2][..^2], NumberStyles.HexNumber, null, out var device) || device > 31
            || !byte.TryParse(parts[2][^1..], NumberStyles.HexNumber, null, out var function) || function > 7)
            return Result<PciAddress>.Fail(ErrorCode.InvalidArgument, $"not a PCI address: '{text}'");
        return new PciAddress(domain, bus, device, function);
    }
}
