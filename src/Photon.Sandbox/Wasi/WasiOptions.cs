namespace Photon.Sandbox.Wasi;

/// <summary>A directory the guest sees as a WASI preopen: <paramref name="GuestPath"/> (what <c>fd_prestat_dir_name</c>
/// reports, e.g. "/data") is the mount bound at <paramref name="Binding"/> in the instance's namespace (a grant name).</summary>
public sealed record WasiPreopen(string GuestPath, string Binding);

/// <summary>Where a guest's stdout and stderr go: each write is handed over as it is made.</summary>
public interface IWasiOutput
{
    /// <param name="fd">1 for stdout, 2 for stderr.</param>
    void Write(int fd, ReadOnlySpan<byte> data);
}

/// <summary>
/// How a WASI command runs: its argv and environment, its preopened directories (mounts granted into its namespace),
/// its stdin bytes and where its output goes. Sizes are bounded so a caller cannot hand a guest more than it can address.
/// </summary>
public sealed record WasiOptions
{
    public const int MaxArgBytes = 256 * 1024;
    public const int MaxPreopens = 64;

    public IReadOnlyList<string> Args { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];
    public IReadOnlyList<WasiPreopen> Preopens { get; init; } = [];
    public byte[] Stdin { get; init; } = [];

    /// <summary>Null: output goes to the instance log (<see cref="WasmInstance.Log"/>).</summary>
    public IWasiOutput? Output { get; init; }

    internal Photon.Kernel.Result Validate()
    {
        long bytes = 0;
        foreach (var a in Args) bytes += System.Text.Encoding.UTF8.GetByteCount(a ?? "") + 1;
        foreach (var (k, v) in Environment) bytes += System.Text.Encoding.UTF8.GetByteCount(k ?? "") + System.Text.Encoding.UTF8.GetByteCount(v ?? "") + 2;
        if (bytes > MaxArgBytes) return Photon.Kernel.Result.Fail(Photon.Kernel.ErrorCode.InvalidArgument, $"arguments and environment exceed {MaxArgBytes} bytes");
        if (Args.Any(a => a is null || a.Contains('\0')) || Environment.Any(e => e.Key is null || e.Value is null || e.Key.Contains('\0') || e.Key.Contains('=') || e.Value.Contains('\0')))
            return Photon.Kernel.Result.Fail(Photon.Kernel.ErrorCode.InvalidArgument, "arguments and environment must not contain NUL (or '=' in names)");
        if (Preopens.Count > MaxPreopens) return Photon.Kernel.Result.Fail(Photon.Kernel.ErrorCode.InvalidArgument, $"more than {MaxPreopens} preopens");
        if (Preopens.Any(p => p is null || string.IsNullOrEmpty(p.GuestPath) || p.GuestPath.Length > 4096 || string.IsNullOrEmpty(p.Binding)))
            return Photon.Kernel.Result.Fail(Photon.Kernel.ErrorCode.InvalidArgument, "a preopen needs a guest path and a binding");
        if (Stdin is null) return Photon.Kernel.Result.Fail(Photon.Kernel.ErrorCode.InvalidArgument, "stdin must not be null");
        return Photon.Kernel.Result.Ok;
    }
}
