namespace Photon.Kernel.Drivers.Nvme;

/// <summary>Decodes a completion's status field (SCT/SC, NVMe Base §4.2.3) into a typed kernel error.</summary>
internal static class NvmeStatus
{
    public static int CodeType(ushort status) => (status >> 8) & 0x7;
    public static int Code(ushort status) => status & 0xFF;
    public static bool DoNotRetry(ushort status) => (status & 0x4000) != 0;

    public static KernelError ToError(ushort status, string what)
    {
        int sct = CodeType(status), sc = Code(status);
        var (code, text) = (sct, sc) switch
        {
            (0, 0x01) => (ErrorCode.NotSupported, "invalid command opcode"),
            (0, 0x02) => (ErrorCode.InvalidArgument, "invalid field in command"),
            (0, 0x03) => (ErrorCode.IoError, "command ID conflict"),
            (0, 0x04) => (ErrorCode.IoError, "data transfer error"),
            (0, 0x05) => (ErrorCode.IoError, "aborted: power loss"),
            (0, 0x06) => (ErrorCode.IoError, "internal error"),
            (0, 0x07) => (ErrorCode.Cancelled, "aborted by request"),
            (0, 0x08) => (ErrorCode.Closed, "aborted: submission queue deleted"),
            (0, 0x0B) => (ErrorCode.NotFound, "invalid namespace or format"),
            (0, 0x80) => (ErrorCode.OutOfRange, "LBA out of range"),
            (0, 0x81) => (ErrorCode.NoSpace, "capacity exceeded"),
            (0, 0x82) => (ErrorCode.Busy, "namespace not ready"),
            (1, 0x00) => (ErrorCode.InvalidArgument, "invalid completion queue"),
            (1, 0x01) => (ErrorCode.InvalidArgument, "invalid queue identifier"),
            (1, 0x02) => (ErrorCode.InvalidArgument, "invalid queue size"),
            (2, 0x80) => (ErrorCode.IoError, "write fault"),
            (2, 0x81) => (ErrorCode.IoError, "unrecovered read error"),
            (2, 0x86) => (ErrorCode.AccessDenied, "access denied"),
            _ => (ErrorCode.IoError, $"status type {sct} code 0x{sc:x2}"),
        };
        return Errors.Of(code, $"{what}: NVMe {text} (SCT {sct}, SC 0x{sc:x2}{(DoNotRetry(status) ? ", do not retry" : "")})");
    }
}
