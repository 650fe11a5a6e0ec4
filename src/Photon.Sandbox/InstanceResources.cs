using Photon.Kernel.Capabilities;

namespace Photon.Sandbox;

/// <summary>What an instance holds outside its store and process, each given back exactly once at teardown.</summary>
/// <param name="Tenant">The capability the instance was created through (to unbind its namespace's name there).</param>
/// <param name="NamespaceName">The instance namespace's name in the tenant namespace.</param>
/// <param name="Namespace">The all-rights capability to the instance's own namespace.</param>
/// <param name="Usage">The tenant account its instance slot and memory reservation are charged to.</param>
/// <param name="Module">The pinned compiled module.</param>
internal sealed record InstanceResources(
    CapabilityToken Tenant, string NamespaceName, CapabilityToken Namespace, TenantUsage Usage, SandboxLimits Limits, ModuleCache.Entry Module);
