using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Drivers.Virtio;

/// <summary>Where one virtio structure lives: a window of a memory BAR.</summary>
public readonly record struct VirtioStructure(int Bar, uint Offset, uint Length);

/// <summary>The virtio structures a modern PCI device announces in its capability list (virtio 1.2 §4.1.4).</summary>
public sealed record VirtioPciLayout(VirtioStructure Common, VirtioStructure Notify, uint NotifyOffMultiplier,
    VirtioStructure Isr, VirtioStructure? Device, bool HasMsix)
{
    private const int StatusRegister = 0x06, CapabilitiesPointer = 0x34, CapabilityListBit = 1 << 4;
    private const byte VendorCapability = 0x09, MsixCapability = 0x11;

    /// <summary>Walks the standard capability list. The walk is bounded (48 entries, each pointer inside config space
    /// and past the header, no revisits) so a hostile config space cannot loop it; <c>NotSupported</c> when a required
    /// structure (common, notify, ISR) is missing — a legacy-only device.</summary>
    public static Result<VirtioPciLayout> Parse(IPciFunction function)
    {
        if ((function.ReadConfig16(StatusRegister) & CapabilityListBit) == 0)
            return Errors.Of(ErrorCode.NotSupported, "no PCI capability list: not a modern virtio device");
        VirtioStructure? common = null, notify = null, isr = null, device = null;
        uint multiplier = 0;
        bool msix = false;
        var seen = new HashSet<int>();
        int ptr = function.ReadConfig8(CapabilitiesPointer) & 0xFC;
        for (int n = 0; ptr != 0 && n < 48; n++)
        {
            if (ptr < 0x40 || ptr > 0xF0 || !seen.Add(ptr))
                return Errors.Of(ErrorCode.Corrupted, $"capability list points at 0x{ptr:x2}");
            byte id = function.ReadConfig8(ptr);
            int next = function.ReadConfig8(ptr + 1) & 0xFC;
            if (id == MsixCapability) msix = true;
            else if (id == VendorCapability)
            {
                var type = (VirtioPciCapType)function.ReadConfig8(ptr + 3);
                int bar = function.ReadConfig8(ptr + 4);
                var s = new VirtioStructure(bar, function.ReadConfig32(ptr + 8), function.ReadConfig32(ptr + 12));
                // The first structure of each type is the preferred one (§4.1.4); BARs above 5 are reserved.
                if (bar <= 5)
                {
                    switch (type)
                    {
                        case VirtioPciCapType.Common when common is null: common = s; break;
                        case VirtioPciCapType.Notify when notify is null:
                            notify = s;
                            multiplier = function.ReadConfig32(ptr + 16);
                            break;
                        case VirtioPciCapType.Isr when isr is null: isr = s; break;
                        case VirtioPciCapType.Device when device is null: device = s; break;
                    }
                }
            }
            ptr = next;
        }
        if (common is null || notify is null || isr is null)
            return Errors.Of(ErrorCode.NotSupported, "virtio common, notify or ISR structure missing (legacy-only device?)");
        if (common.Value.Length < 0x38) return Errors.Of(ErrorCode.Corrupted, "virtio common configuration too short");
        return new VirtioPciLayout(common.Value, notify.Value, multiplier, isr.Value, device, msix);
    }
}
