namespace Photon.Kernel.Drivers.Nvme;

/// <summary>The controller registers in BAR0 and their fields (NVM Express Base Specification 2.0, §3.1).</summary>
internal static class NvmeRegisters
{
    public const long Cap = 0x00, Vs = 0x08, Intms = 0x0C, Intmc = 0x10, Cc = 0x14, Csts = 0x1C, Aqa = 0x24, Asq = 0x28, Acq = 0x30;
    public const long Doorbells = 0x1000;

    public const uint CcEnable = 1;
    /// <summary>CC.IOSQES = 6 (64-byte entries), CC.IOCQES = 4 (16-byte entries), CSS = NVM, MPS = 4 KiB, AMS = round robin.</summary>
    public const uint CcEntrySizes = (6u << 16) | (4u << 20);
    public const uint CcShutdownNormal = 1u << 14;
    public const uint CstsReady = 1, CstsFatal = 2;
    public const uint CstsShutdownMask = 3u << 2, CstsShutdownComplete = 2u << 2;

    /// <summary>CAP.MQES: the largest queue the controller supports, in entries.</summary>
    public static int MaxQueueEntries(ulong cap) => (int)(cap & 0xFFFF) + 1;
    /// <summary>CAP.TO: how long enabling or disabling may take.</summary>
    public static TimeSpan ReadyTimeout(ulong cap) => TimeSpan.FromMilliseconds(Math.Max(1, (cap >> 24) & 0xFF) * 500);
    /// <summary>CAP.DSTRD: doorbell stride in bytes.</summary>
    public static int DoorbellStride(ulong cap) => 4 << (int)((cap >> 32) & 0xF);
    /// <summary>CAP.CSS bit 0: the NVM command set.</summary>
    public static bool SupportsNvm(ulong cap) => ((cap >> 37) & 1) != 0;
    /// <summary>CAP.MPSMIN: the smallest memory page size, which must be 4 KiB or less for this driver.</summary>
    public static int MinPageSize(ulong cap) => 4096 << (int)((cap >> 48) & 0xF);

    public static long SubmissionDoorbell(int queue, int stride) => Doorbells + 2L * queue * stride;
    public static long CompletionDoorbell(int queue, int stride) => Doorbells + (2L * queue + 1) * stride;

    public static string Version(uint vs) => $"{vs >> 16}.{(vs >> 8) & 0xFF}.{vs & 0xFF}";
}
