using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Modules;
using Photon.Kernel.Processes;

[assembly: PhotonModule("ext4", typeof(Photon.FileSystems.Ext4.Ext4Module), Description = "ext4 filesystem driver")]
[assembly: ModuleCapability("/filesystems", Rights.Bind, As = "registry")]

namespace Photon.FileSystems.Ext4;

/// <summary>
/// Module entry point: registers <see cref="Ext4FileSystemDriver"/> with the kernel's filesystem registry (the only
/// capability the module asks for: Bind on /filesystems) and unregisters it when stopped. The registration lives in
/// the module's handle table, so unloading revokes it even if StopAsync never runs.
/// </summary>
public sealed class Ext4Module : IKernelModule
{
    private ModuleContext? _context;
    private Handle _registration;

    public Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken)
    {
        _context = context;
        var registry = context.Use<FileSystemRegistry>("registry", Rights.Bind);
        if (!registry.IsOk) return Task.FromResult(registry.AsResult());
        var registered = registry.Value.Register(context.TokenOf("registry").Value, new Ext4FileSystemDriver(), context.Principal);
        if (!registered.IsOk) return Task.FromResult(registered.AsResult());
        var handle = context.Adopt(registered.Value);
        if (!handle.IsOk) return Task.FromResult(handle.AsResult());
        _registration = handle.Value;
        context.LogInfo("registered filesystem type 'ext4'");
        return Task.FromResult(Result.Ok);
    }

    public Task<Result> StopAsync(CancellationToken cancellationToken)
    {
        if (_context is null) return Task.FromResult(Result.Ok);
        var closed = _context.Sys.Handles.Close(_context.Process, _registration);
        _context = null;
        return Task.FromResult(closed);
    }
}
