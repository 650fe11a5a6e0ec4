using Photon.Kernel;

namespace Photon.Sandbox.Wasi;

/// <summary>WASI preview 1 error numbers (<c>wasi_snapshot_preview1</c> <c>errno</c>), the subset Photon returns.</summary>
internal enum WasiErrno : ushort
{
    Success = 0,
    TooBig = 1,
    Access = 2,
    Again = 6,
    BadF = 8,
    Busy = 10,
    Canceled = 11,
    Exist = 20,
    Fault = 21,
    FBig = 22,
    Ilseq = 25,
    Inval = 28,
    Io = 29,
    IsDir = 31,
    Loop = 32,
    MFile = 33,
    NameTooLong = 37,
    NoEnt = 44,
    NoMem = 48,
    NoSpc = 51,
    NoSys = 52,
    NotDir = 54,
    NotEmpty = 55,
    NotSup = 58,
    Overflow = 61,
    Perm = 63,
    Rofs = 69,
    SPipe = 70,
    TimedOut = 73,
    XDev = 75,
    NotCapable = 76,
}

internal static class WasiErrors
{
    /// <summary>The errno a kernel error becomes. Denials by a capability (missing rights, revoked or stale handles)
    /// are ENOTCAPABLE: the guest lacks the capability, which is what WASI's capability errno says.</summary>
    public static WasiErrno From(ErrorCode code) => code switch
    {
        ErrorCode.None => WasiErrno.Success,
        ErrorCode.AccessDenied or ErrorCode.Revoked or ErrorCode.StaleCapability or ErrorCode.UnknownCapability => WasiErrno.NotCapable,
        ErrorCode.InvalidHandle or ErrorCode.WrongObjectType or ErrorCode.Closed => WasiErrno.BadF,
        ErrorCode.NotFound => WasiErrno.NoEnt,
        ErrorCode.AlreadyExists => WasiErrno.Exist,
        ErrorCode.InvalidName => WasiErrno.Inval,
        ErrorCode.NotEmpty => WasiErrno.NotEmpty,
        ErrorCode.QuotaExceeded or ErrorCode.OutOfMemory => WasiErrno.NoMem,
        ErrorCode.OutOfRange => WasiErrno.Fault,
        ErrorCode.Cancelled => WasiErrno.Canceled,
        ErrorCode.TimedOut => WasiErrno.TimedOut,
        ErrorCode.WouldBlock => WasiErrno.Again,
        ErrorCode.Busy => WasiErrno.Busy,
        ErrorCode.NotSupported => WasiErrno.NotSup,
        ErrorCode.ReadOnly => WasiErrno.Rofs,
        ErrorCode.NoSpace => WasiErrno.NoSpc,
        ErrorCode.NotADirectory => WasiErrno.NotDir,
        ErrorCode.IsADirectory => WasiErrno.IsDir,
        ErrorCode.InvalidArgument => WasiErrno.Inval,
        ErrorCode.TooManyLinks => WasiErrno.Loop,
        _ => WasiErrno.Io,
    };
}
