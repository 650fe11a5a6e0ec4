using System.Buffers.Binary;

namespace Photon.Kernel.Drivers.Usb;

/// <summary>A bulk endpoint from a configuration descriptor: its address (bit 7: IN), max packet size and, for
/// SuperSpeed, the max burst from its companion descriptor.</summary>
public readonly record struct UsbEndpoint(byte Address, int MaxPacketSize, int MaxBurst)
{
    public bool IsIn => (Address & 0x80) != 0;
    /// <summary>The xHCI device context index: 2 × endpoint number, plus one for IN.</summary>
    public int ContextIndex => 2 * (Address & 0x0F) + (IsIn ? 1 : 0);
}

/// <summary>What the driver needs from a configuration: its value and the mass-storage (class 8, SCSI transparent
/// subclass 6, Bulk-Only protocol 0x50) interface's number and bulk endpoints.</summary>
public sealed record UsbMassStorageInterface(byte ConfigurationValue, byte InterfaceNumber, UsbEndpoint BulkIn, UsbEndpoint BulkOut);

/// <summary>Parsers for the standard descriptors (USB 2.0 §9.6, USB 3.2 §9.6.7). Every length is checked against the
/// bytes actually received, and the walk over a configuration always advances, so a hostile device cannot make the
/// parser read out of bounds or loop.</summary>
public static class UsbDescriptors
{
    public const byte Device = 1, Configuration = 2, Interface = 4, Endpoint = 5, SuperSpeedCompanion = 0x30;

    /// <summary>Vendor, product and bMaxPacketSize0 of an 18-byte device descriptor.</summary>
    public static Result<(ushort Vendor, ushort Product, byte MaxPacket0, byte Configurations)> ParseDevice(ReadOnlySpan<byte> d)
    {
        if (d.Length < 18 || d[0] < 18 || d[1] != Device) return Errors.Of(ErrorCode.Corrupted, "bad device descriptor");
        return (BinaryPrimitives.ReadUInt16LittleEndian(d[8..]), BinaryPrimitives.ReadUInt16LittleEndian(d[10..]), d[7], d[17]);
    }

    public static Result<UsbMassStorageInterface> FindMassStorage(ReadOnlySpan<byte> config)
    {
        if (config.Length < 9 || config[1] != Configuration || config[0] < 9) return Errors.Of(ErrorCode.Corrupted, "bad configuration descriptor");
        byte value = config[5];
        int total = Math.Min(config.Length, BinaryPrimitives.ReadUInt16LittleEndian(config[2..]));
        int at = config[0];
        bool inMassStorage = false;
        byte iface = 0;
        UsbEndpoint? bulkIn = null, bulkOut = null;
        UsbEndpoint? last = null;
        while (at + 2 <= total)
        {
            int len = config[at];
            if (len < 2 || at + len > total) return Errors.Of(ErrorCode.Corrupted, $"descriptor of length {len} at {at}");
            var d = config.Slice(at, len);
            switch (d[1])
            {
                case Interface when len >= 9:
                    if (bulkIn is not null && bulkOut is not null) goto done;
                    // Only alternate setting 0 is active after SET_CONFIGURATION (the driver sends no SET_INTERFACE): an
                    // alternate setting's endpoints would be configured on the controller but never answer (usb19).
                    inMassStorage = d[3] == 0 && d[5] == 8 && d[6] == 6 && d[7] == 0x50;
                    iface = d[2];
                    bulkIn = bulkOut = last = null;
                    break;
                case Endpoint when len >= 7 && inMassStorage && (d[3] & 3) == 2:
                    var ep = new UsbEndpoint(d[2], BinaryPrimitives.ReadUInt16LittleEndian(d[4..]) & 0x7FF, 0);
                    if (ep.MaxPacketSize == 0 || (ep.Address & 0x0F) == 0) return Errors.Of(ErrorCode.Corrupted, $"bulk endpoint 0x{ep.Address:x2} unusable");
                    if (ep.IsIn) bulkIn ??= ep; else bulkOut ??= ep;
                    last = ep;
                    break;
                case SuperSpeedCompanion when len >= 6 && last is { } prev:
                    var burst = new UsbEndpoint(prev.Address, prev.MaxPacketSize, d[2] & 0x0F);
                    if (bulkIn == prev) bulkIn = burst;
                    if (bulkOut == prev) bulkOut = burst;
                    last = null;
                    break;
            }
            at += len;
        }
    done:
        if (bulkIn is null || bulkOut is null) return Errors.Of(ErrorCode.NotSupported, "no USB mass-storage Bulk-Only interface with bulk IN and OUT");
        return new UsbMassStorageInterface(value, iface, bulkIn.Value, bulkOut.Value);
    }
}
