using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Sandbox.Wasi;

/// <summary>
/// What one guest's WASI calls share: its process (every kernel call is made as it), its descriptor table, its options
/// and clocks. Calls on one instance are serialized by the instance, so this needs no lock of its own.
/// </summary>
internal sealed class WasiContext
{
    /// <summary>Largest transfer of one read or write call; bigger requests are short, as read(2) may be.</summary>
    public const int MaxIoBytes = 1024 * 1024;

    /// <summary>Fuel charged per byte moved by the host on the guest's behalf (one unit per 16 bytes), so I/O the
    /// guest asks for counts against the same per-call budget as the instructions it runs.</summary>
    public const int BytesPerFuel = WasmInstance.BytesPerFuel;

    public WasiContext(WasmInstance instance, SyscallTable sys, WasiOptions options, Func<TimeSpan> monotonic, Func<DateTimeOffset> wallClock)
    {
        Instance = instance;
        Sys = sys;
        Options = options;
        Monotonic = monotonic;
        WallClock = wallClock;
    }

    public WasmInstance Instance { get; }
    public Process Process => Instance.Process;
    public SyscallTable Sys { get; }
    public FileSyscalls? Files => Sys.Files;
    public WasiOptions Options { get; }
    public WasiFdTable Fds { get; } = new();
    public Func<TimeSpan> Monotonic { get; }
    public Func<DateTimeOffset> WallClock { get; }
    public long StdinPosition { get; set; }

    /// <summary>Opens stdio and the preopens. A preopen whose binding is missing or not a directory fails the start.</summary>
    public Result Open()
    {
        Fds.TryAdd(new WasiFd(WasiFdKind.Stdin, Handle.Invalid, "", "") { CanRead = true }, out _);
        Fds.TryAdd(new WasiFd(WasiFdKind.Stdout, Handle.Invalid, "", "") { CanWrite = true }, out _);
        Fds.TryAdd(new WasiFd(WasiFdKind.Stderr, Handle.Invalid, "", "") { CanWrite = true }, out _);
        foreach (var p in Options.Preopens)
        {
            if (Files is null) return Result.Fail(ErrorCode.NotSupported, "the sandbox has no VFS for preopens");
            var root = "/" + p.Binding;
            var dir = Wait(Files.OpenAsync(Process, root, Rights.Read));
            if (!dir.IsOk) return Result.Fail(dir.Error.Code, $"preopen {p.GuestPath} ({root}): {dir.Error.Message}");
            Fds.TryAdd(new WasiFd(WasiFdKind.Directory, dir.Value, root, root) { PreopenName = p.GuestPath, CanRead = true }, out _);
        }
        return Result.Ok;
    }

    /// <summary>Host calls are synchronous; the VFS, filesystem and block paths never need a kernel CPU to complete
    /// (ConfigureAwait(false) throughout), so waiting here is a blocking syscall, not a deadlock.</summary>
    public static T Wait<T>(ValueTask<T> pending) => pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();

    // Never set: waiting on it with a timeout is a sleep that uses no host thread API (the sandbox sits above the HAL).
    private readonly ManualResetEventSlim _never = new(false);

    public void Sleep(TimeSpan t) => _never.Wait(t);

    public void ChargeIo(long bytes) => Instance.ChargeFuel(bytes / BytesPerFuel);

    public void Output(int fd, ReadOnlySpan<byte> data)
    {
        if (Options.Output is { } sink) sink.Write(fd, data);
        else Instance.AddLog((fd == 2 ? "stderr: " : "") + System.Text.Encoding.UTF8.GetString(data));
    }

    public WasiErrno Stat(WasiFd fd, out FileStat stat)
    {
        stat = null!;
        if (Files is null) return WasiErrno.NotSup;
        var s = Wait(Files.StatAsync(Process, fd.Handle));
        if (!s.IsOk) return WasiErrors.From(s.Code);
        stat = s.Value;
        return WasiErrno.Success;
    }
}
