namespace Photon.Kernel.Hal.Pci;

/// <summary>What enumeration reports about one PCI function before anything is opened: its identity and class
/// (class code 0x010802 is NVMe, 0x020000 Ethernet, 0x0C0330 xHCI), and the Linux driver bound to it, if any.</summary>
public sealed record PciFunctionInfo(PciAddress Address, ushort VendorId, ushort DeviceId, uint ClassCode, string? BoundDriver);
