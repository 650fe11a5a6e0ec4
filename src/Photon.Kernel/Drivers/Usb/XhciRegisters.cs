namespace Photon.Kernel.Drivers.Usb;

/// <summary>Register offsets and bits of xHCI 1.2 §5 used by <see cref="XhciController"/>.</summary>
internal static class XhciRegisters
{
    // Capability registers (BAR0 + 0)
    public const int CapLength = 0x00, HcsParams1 = 0x04, HcsParams2 = 0x08, HccParams1 = 0x10, DbOff = 0x14, RtsOff = 0x18;
    // Operational registers (BAR0 + CAPLENGTH)
    public const int UsbCmd = 0x00, UsbSts = 0x04, PageSize = 0x08, Crcr = 0x18, Dcbaap = 0x30, Config = 0x38, PortBase = 0x400;
    public const uint CmdRun = 1, CmdReset = 1 << 1, CmdInterruptEnable = 1 << 2;
    public const uint StsHalted = 1, StsHostSystemError = 1 << 2, StsEventInterrupt = 1 << 3, StsNotReady = 1 << 11, StsHostControllerError = 1 << 12;
    // PORTSC
    public const uint PortConnected = 1, PortEnabled = 1 << 1, PortReset = 1 << 4, PortPower = 1 << 9;
    public const uint PortConnectChange = 1 << 17, PortEnableChange = 1 << 18, PortWarmResetChange = 1 << 19,
        PortOverCurrentChange = 1 << 20, PortResetChange = 1 << 21, PortLinkChange = 1 << 22, PortConfigErrorChange = 1 << 23;
    public const uint PortChangeBits = PortConnectChange | PortEnableChange | PortWarmResetChange | PortOverCurrentChange |
                                       PortResetChange | PortLinkChange | PortConfigErrorChange;
    // Interrupter 0 (runtime base + 0x20)
    public const int Iman = 0x20, Imod = 0x24, Erstsz = 0x28, Erstba = 0x30, Erdp = 0x38;
    public const uint ImanPending = 1, ImanEnable = 1 << 1;
    public const ulong ErdpBusy = 1 << 3;
}
