namespace Photon.Kernel.Drivers.Nvme;

/// <summary>Admin and NVM command-set opcodes the driver issues.</summary>
internal static class NvmeOpcode
{
    public const byte DeleteIoSq = 0x00, CreateIoSq = 0x01, DeleteIoCq = 0x04, CreateIoCq = 0x05, Identify = 0x06, SetFeatures = 0x09;
    public const byte Flush = 0x00, Write = 0x01, Read = 0x02;
}

/// <summary>
/// A 64-byte submission queue entry, before it has a command identifier or data pointers: the queue pair assigns
/// the CID (its slot) and fills PRP1/PRP2 from the slot's DMA buffer.
/// </summary>
/// <remarks><see cref="QueueAddress"/> is PRP1 for commands that name memory other than a data buffer (the base of a
/// queue being created).</remarks>
internal readonly record struct NvmeCommand(byte Opcode, uint Nsid = 0, uint Cdw10 = 0, uint Cdw11 = 0, uint Cdw12 = 0,
    uint Cdw13 = 0, uint Cdw14 = 0, uint Cdw15 = 0, ulong QueueAddress = 0)
{
    public const int Size = 64;

    public void WriteTo(Span<byte> entry, ushort cid, ulong prp1, ulong prp2)
    {
        entry[..Size].Clear();
        var w = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(entry[..Size]);
        w[0] = Opcode | ((uint)cid << 16);
        w[1] = Nsid;
        w[6] = (uint)prp1; w[7] = (uint)(prp1 >> 32);
        w[8] = (uint)prp2; w[9] = (uint)(prp2 >> 32);
        w[10] = Cdw10; w[11] = Cdw11; w[12] = Cdw12; w[13] = Cdw13; w[14] = Cdw14; w[15] = Cdw15;
    }

    /// <summary>The most blocks one Read or Write names: CDW12.NLB is a 16-bit count less one.</summary>
    public const int MaxBlocks = 65536;

    public static NvmeCommand Read(uint nsid, long lba, int blocks) =>
        new(NvmeOpcode.Read, nsid, (uint)lba, (uint)(lba >> 32), NumberOfBlocks(blocks));

    public static NvmeCommand Write(uint nsid, long lba, int blocks) =>
        new(NvmeOpcode.Write, nsid, (uint)lba, (uint)(lba >> 32), NumberOfBlocks(blocks));

    // The callers checked the range: a count outside 1..65,536 here is a driver bug, and encoding it would spill into
    // CDW12's LR/FUA/PRINFO/DTYPE bits (0 blocks → 0xFFFFFFFF: 65,536 blocks DMA'd at PRP1 0).
    private static uint NumberOfBlocks(int blocks) => blocks is >= 1 and <= MaxBlocks
        ? (uint)(blocks - 1) : throw new ArgumentOutOfRangeException(nameof(blocks), blocks, "an NVMe read or write names 1 to 65,536 blocks");

    public static NvmeCommand Flush(uint nsid) => new(NvmeOpcode.Flush, nsid);

    /// <summary>Identify (CNS 1 = controller, CNS 0 = namespace <paramref name="nsid"/>).</summary>
    public static NvmeCommand Identify(uint cns, uint nsid = 0) => new(NvmeOpcode.Identify, nsid, cns);

    /// <summary>Set Features / Number of Queues (FID 7), both counts 1-based.</summary>
    public static NvmeCommand SetQueueCount(int submission, int completion) =>
        new(NvmeOpcode.SetFeatures, 0, 0x07, (uint)(completion - 1) << 16 | (uint)(submission - 1));

    /// <summary>Create I/O Completion Queue: physically contiguous, interrupts on <paramref name="vector"/> if enabled.</summary>
    public static NvmeCommand CreateCompletionQueue(int qid, int entries, ulong address, int vector, bool interrupts) =>
        new(NvmeOpcode.CreateIoCq, 0, (uint)(entries - 1) << 16 | (uint)qid, (uint)vector << 16 | (interrupts ? 2u : 0u) | 1u, QueueAddress: address);

    public static NvmeCommand CreateSubmissionQueue(int qid, int entries, ulong address, int cqid) =>
        new(NvmeOpcode.CreateIoSq, 0, (uint)(entries - 1) << 16 | (uint)qid, (uint)cqid << 16 | 1u, QueueAddress: address);

    public static NvmeCommand DeleteSubmissionQueue(int qid) => new(NvmeOpcode.DeleteIoSq, 0, (uint)qid);
    public static NvmeCommand DeleteCompletionQueue(int qid) => new(NvmeOpcode.DeleteIoCq, 0, (uint)qid);
}

/// <summary>A completion queue entry as the driver keeps it: command-specific DW0 and the 15-bit status field.</summary>
internal readonly record struct NvmeCompletion(uint Dw0, ushort Status)
{
    public bool IsSuccess => Status == 0;
    public Result AsResult(string what) => IsSuccess ? Result.Ok : NvmeStatus.ToError(Status, what);
}
