using System.Diagnostics.CodeAnalysis;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Boot.Components;

/// <summary>
/// A native module (trusted kernel code: a filesystem, a driver) loaded at boot by init through its module-loader
/// handle, exactly as an administrator would (<c>Sys.Modules.LoadAsync</c>): pins, grants and deadlines apply. Stopping
/// unloads it. Put module components before the mounts that need their drivers.
/// </summary>
public sealed class ModuleComponent(string location) : IKernelComponent
{
    private PhotonKernel? _kernel;
    private Handle _control;

    public string Location { get; } = location;

    public string Name => $"module {Path.GetFileNameWithoutExtension(Location)}";

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Native modules are loaded by reflection by design; the kernel is not trimmed.")]
    public async ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        var loaded = await k.Sys.Modules!.LoadAsync(k.Init, k.InitModuleLoader, k.InitRoot, Location, ct: ct).ConfigureAwait(false);
        if (!loaded.IsOk) return loaded.Error;
        _control = loaded.Value.Control;
        var m = loaded.Value.Module;
        return $"'{m.Name}' (pid {m.Pid}), granted {string.Join(", ", m.Grants.Select(g => $"{g.Path} ({g.Rights.ToShortString()})"))}";
    }

    public async ValueTask StopAsync()
    {
        if (_kernel is { } k && !_control.Equals(default(Handle)))
        {
            var r = await k.Sys.Modules!.UnloadAsync(k.Init, _control).ConfigureAwait(false);
            if (!r.IsOk) k.Log.Warn("shutdown", $"unloading {Location}: {r.Error}");
            _control = default;
        }
        _kernel = null;
    }
}
