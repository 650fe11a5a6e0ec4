using Photon.Kernel.Capabilities;
using Photon.Kernel.Quotas;

namespace Photon.Kernel.Boot.Components;

/// <summary>
/// A tenant: the top-level namespace <c>/&lt;name&gt;</c> (with the given child namespaces, such as <c>mnt</c> for
/// mount components to bind into) and its quota limits. Stopping destroys the namespace — every capability bound in
/// it or derived from it dies — and lifts the limits.
/// </summary>
public sealed class TenantComponent(string name, QuotaLimits? limits = null, IReadOnlyList<string>? children = null) : IKernelComponent
{
    private PhotonKernel? _kernel;
    private CapabilityToken _ns;
    private readonly List<CapabilityToken> _children = new();
    private bool _limited;

    public string TenantName { get; } = name;
    public QuotaLimits? Limits { get; } = limits;
    public IReadOnlyList<string> Children { get; } = children ?? ["mnt"];

    public string Name => $"tenant /{TenantName}";

    public ValueTask<Result<string>> StartAsync(PhotonKernel k, CancellationToken ct)
    {
        _kernel = k;
        var ns = k.Namespaces.CreateChild(k.Namespaces.RootCapability, TenantName);
        if (!ns.IsOk) return new(ns.Error);
        _ns = ns.Value;
        foreach (var child in Children)
        {
            // Child namespaces live as long as the tenant's: destroying it destroys them.
            var c = k.Namespaces.CreateChild(_ns, child);
            if (!c.IsOk) return new(c.Error);
            _children.Add(c.Value);
        }
        if (Limits is { } l)
        {
            var set = k.Quotas.SetLimits("/" + TenantName, l);
            if (!set.IsOk) return new(set.Error);
            _limited = true;
        }
        var children = Children.Count == 0 ? "" : $" with {string.Join(", ", Children.Select(c => c + "/"))}";
        return new($"/{TenantName}{children}; quota {Describe(Limits)}");
    }

    public ValueTask StopAsync()
    {
        if (_kernel is not { } k) return ValueTask.CompletedTask;
        // A child namespace's own root capability is not bound anywhere: destroy each before the tenant.
        foreach (var c in _children) k.Namespaces.Destroy(c);
        _children.Clear();
        if (!_ns.IsNone)
        {
            k.Namespaces.Destroy(_ns);
            k.Namespaces.Unbind(k.Namespaces.RootCapability, TenantName);
            _ns = default;
        }
        if (_limited) { k.Quotas.SetLimits("/" + TenantName, new QuotaLimits()); _limited = false; }
        _kernel = null;
        return ValueTask.CompletedTask;
    }

    private static string Describe(QuotaLimits? l)
    {
        if (l is null) return "none";
        var parts = new List<string>();
        if (l.MemoryBytes is { } m) parts.Add($"memory {m / 1024} KiB");
        if (l.Tasks is { } t) parts.Add($"{t} tasks");
        if (l.Capabilities is { } c) parts.Add($"{c} capabilities");
        if (l.IpcQueueDepth is { } d) parts.Add($"IPC depth {d}");
        return parts.Count == 0 ? "unlimited" : string.Join(", ", parts);
    }
}
