namespace Photon.Kernel.Drivers.Usb;

/// <summary>Tuning for <see cref="XhciController"/>: device slots to enable, ring sizes, how long a command and a
/// transfer may take before the driver gives up on them (TCG emulation is slow: generous defaults), the polling tick,
/// and whether to poll even when MSI-X is available.</summary>
public sealed record XhciOptions(int MaxSlots = 8, int RingEntries = 256, TimeSpan? CommandTimeout = null, TimeSpan? TransferTimeout = null,
    TimeSpan? PollInterval = null, bool ForcePolling = false)
{
    public TimeSpan Command => CommandTimeout ?? TimeSpan.FromSeconds(5);
    public TimeSpan Transfer => TransferTimeout ?? TimeSpan.FromSeconds(20);
    public TimeSpan Poll => PollInterval ?? TimeSpan.FromMilliseconds(1);
}
