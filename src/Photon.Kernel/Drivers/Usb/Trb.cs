namespace Photon.Kernel.Drivers.Usb;

/// <summary>TRB types (xHCI 1.2 §6.4.6, table 6-91).</summary>
public enum TrbType : byte
{
    Normal = 1, Setup = 2, Data = 3, Status = 4, Link = 6,
    EnableSlot = 9, DisableSlot = 10, AddressDevice = 11, ConfigureEndpoint = 12, EvaluateContext = 13,
    ResetEndpoint = 14, StopEndpoint = 15, SetTrDequeue = 16, ResetDevice = 17, NoOp = 23,
    TransferEvent = 32, CommandCompletion = 33, PortStatusChange = 34, HostControllerEvent = 37,
}

/// <summary>Completion codes (xHCI 1.2 §6.4.5).</summary>
public enum TrbCompletion : byte
{
    Invalid = 0, Success = 1, DataBuffer = 2, Babble = 3, UsbTransaction = 4, Trb = 5, Stall = 6, Resource = 7,
    Bandwidth = 8, NoSlots = 9, SlotNotEnabled = 11, EndpointNotEnabled = 12, ShortPacket = 13, ContextState = 19,
    Parameter = 17,
}

/// <summary>A 16-byte TRB: a 64-bit parameter, a status word and a control word (cycle bit 0, type bits 15:10).</summary>
public readonly record struct Trb(ulong Parameter, uint Status, uint Control)
{
    public const int Size = 16;
    public const uint Cycle = 1, ToggleCycle = 1 << 1, InterruptOnShort = 1 << 2, Chain = 1 << 4, InterruptOnCompletion = 1 << 5,
        ImmediateData = 1 << 6, DirectionIn = 1 << 16;

    public TrbType Type => (TrbType)((Control >> 10) & 0x3F);
    public bool CycleBit => (Control & Cycle) != 0;
    public TrbCompletion Completion => (TrbCompletion)(Status >> 24);
    /// <summary>Residual bytes for a transfer event (bits 23:0).</summary>
    public int TransferResidual => (int)(Status & 0xFFFFFF);
    public int SlotId => (int)(Control >> 24);
    /// <summary>Endpoint context index of a transfer event (bits 20:16).</summary>
    public int EndpointId => (int)((Control >> 16) & 0x1F);

    public static uint TypeBits(TrbType type) => (uint)type << 10;
}
