using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Block;
using Photon.Kernel.Hal;

namespace Photon.Kernel.Boot.Components;

/// <summary>
/// An NVMe-style block device (<see cref="NvmeBlockDevice"/>) over a storage unit the platform offers
/// (<see cref="Platform.Storage"/>: an image file on the host), bound as <c>/dev/&lt;name&gt;</c> with Read, Write
/// (unless read-only) and Delegate — the capability a mount component or init mounts through. Stopping revokes the
/// device capability (cutting off every mount made through it), stops the controller loops and closes the storage.
/// </summary>
public sealed class BlockDeviceComponent(string name, string storage, NvmeOptions? options = null, bool readOnly = false) : IKernelComponent
{
    private IBlockStorage? _storage;
    private NvmeBlockDevice? _device;
    private CapabilityToken _capability;
    private PhotonKernel? _kernel;
    private readonly List<IDisposable> _monitored = new();

    public string DeviceName { get; } = name;
    public string Storage { get; } = storage;

    public string Name => $"blockdev {DeviceName}";

    public async ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        if (k.Platform.Storage is not { } source) return Errors.Of(ErrorCode.NotSupported, $"{k.Platform.Name} offers no storage");
        var valid = Namespaces.NamespacePath.ValidateName(DeviceName);
        if (!valid.IsOk) return valid.Error;
        var opened = source.Open(Storage, readOnly);
        if (!opened.IsOk) return opened.Error;
        _storage = opened.Value;
        var started = NvmeBlockDevice.Start(_storage, k.Capabilities, options ?? new NvmeOptions(QueuePairs: 2, QueueDepth: 32));
        if (!started.IsOk) return started.Error;
        (_device, _capability) = started.Value;
        var rights = Rights.Read | Rights.Delegate | (readOnly ? Rights.None : Rights.Write);
        var bound = k.Namespaces.Bind(k.DevNamespace, DeviceName, _capability, rights);
        if (!bound.IsOk) return bound.Error;
        for (int i = 0; i < _device.Queues.Count; i++)
        {
            var queue = _device.Queues[i];
            _monitored.Add(k.Monitor.AddQueue($"{DeviceName}.q{i}", () => queue.Stats));
        }
        await Task.CompletedTask.ConfigureAwait(false);
        return $"/dev/{DeviceName}: {_storage.Name}, {_device.SectorCount} sectors of {_device.SectorSize} B, {_device.Queues.Count} queue pairs{(readOnly ? ", read-only" : "")}";
    }

    public async ValueTask StopAsync()
    {
        foreach (var m in _monitored) m.Dispose();
        _monitored.Clear();
        if (_kernel is { } k)
        {
            if (!_capability.IsNone)
            {
                k.Capabilities.Revoke(_capability);
                k.Namespaces.Unbind(k.DevNamespace, DeviceName);
                _capability = default;
            }
        }
        if (_device is not null) { await _device.DisposeAsync().ConfigureAwait(false); _device = null; }
        if (_storage is not null) { await _storage.DisposeAsync().ConfigureAwait(false); _storage = null; }
        _kernel = null;
    }
}
