using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Boot.Components;

/// <summary>Where a mount is bound: a path from the root (<c>/tenant-a/mnt/disk</c>, whose parent must exist) and the
/// rights the binding carries (see <see cref="VirtualFileSystem.MountRights"/>).</summary>
public sealed record MountBinding(string Path, Rights Rights);

/// <summary>
/// Mounts the device <c>/dev/&lt;device&gt;</c> with whichever filesystem driver in the registry recognises it (so the
/// module components that register drivers come first), as init through the file syscalls, and binds it into the given
/// namespaces with the given rights — plus <c>/mounts/&lt;name&gt;</c> with every mount right, the administrator's view
/// through which init can unmount. Stopping unmounts (flushing) if nobody did already.
/// </summary>
public sealed class MountComponent(string name, string device, IReadOnlyList<MountBinding> bindings, MountOptions? options = null) : IKernelComponent
{
    private PhotonKernel? _kernel;
    private Handle _mount;
    private Handle _device;
    private bool _adminBound;

    public string MountName { get; } = name;
    public string Device { get; } = device;
    public IReadOnlyList<MountBinding> Bindings { get; } = bindings;

    public string Name => $"mount {MountName}";

    public async ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        var sys = k.Sys;
        var files = sys.Files!;
        var ro = options?.ReadOnly == true;
        var registry = sys.Namespaces.Open(k.Init, "/filesystems", Rights.Read);
        if (!registry.IsOk) return registry.Error;
        var dev = sys.Namespaces.Open(k.Init, "/dev/" + Device, Rights.Read | Rights.Delegate | (ro ? Rights.None : Rights.Write));
        if (!dev.IsOk) { sys.Handles.Close(k.Init, registry.Value); return dev.Error; }
        // The mount reaches the device through init's handle: it stays open for as long as the mount does.
        _device = dev.Value;
        var mount = await files.MountAsync(k.Init, registry.Value, _device, options, ct).ConfigureAwait(false);
        sys.Handles.Close(k.Init, registry.Value);
        if (!mount.IsOk) return mount.Error;
        _mount = mount.Value;
        var info = sys.Handles.Inspect(k.Init, _mount);
        if (!info.IsOk) return info.Error;
        var admin = files.BindMount(k.Init, k.InitRoot, "/mounts/" + MountName, _mount, info.Value.Rights);
        if (!admin.IsOk) return admin.Error;
        _adminBound = true;
        foreach (var b in Bindings)
        {
            var bound = files.BindMount(k.Init, k.InitRoot, b.Path, _mount, b.Rights);
            if (!bound.IsOk) return Errors.Of(bound.Error.Code, $"binding at {b.Path}: {bound.Error.Message}");
        }
        return $"{info.Value.Label} on /dev/{Device}{(ro ? " (read-only)" : "")} -> {string.Join(", ", Bindings.Select(b => $"{b.Path} ({b.Rights.ToShortString()})"))}";
    }

    public async ValueTask StopAsync()
    {
        if (_kernel is not { } k) return;
        if (!_mount.Equals(default(Handle)))
        {
            // Already unmounted through /mounts/<name> (the handle then names a revoked capability): just close it.
            var r = await k.Sys.Files!.UnmountAsync(k.Init, _mount).ConfigureAwait(false);
            if (!r.IsOk) k.Sys.Handles.Close(k.Init, _mount);
            _mount = default;
        }
        if (!_device.Equals(default(Handle))) { k.Sys.Handles.Close(k.Init, _device); _device = default; }
        if (_adminBound) { k.Namespaces.Unbind(k.MountsNamespace, MountName); _adminBound = false; }
        _kernel = null;
    }
}
