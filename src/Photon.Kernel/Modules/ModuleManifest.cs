using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Namespaces;

namespace Photon.Kernel.Modules;

/// <summary>
/// Marks an assembly as a Photon module and names its entry type (a public class with a public parameterless
/// constructor implementing <see cref="IKernelModule"/>). The loader reads this before running any module code.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = false)]
public sealed class PhotonModuleAttribute(
    string name,
    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] Type entryType) : Attribute
{
    /// <summary>Module name: becomes /modules/&lt;name&gt; (namespace-name rules: ASCII letters, digits, '-', '_', '.').</summary>
    public string Name { get; } = name;

    [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)]
    public Type EntryType { get; } = entryType;

    public string Description { get; init; } = "";
}

/// <summary>
/// One capability a module asks for: the object bound at <paramref name="path"/> in the loading principal's namespace,
/// with exactly <paramref name="rights"/> — what the module is handed, not a limit on what its (trusted) code can reach. It appears in the module's own namespace (and handle table) as
/// <see cref="As"/> (default: the last segment of the path). The loader refuses the module if the loader cannot grant it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class ModuleCapabilityAttribute(string path, Rights rights) : Attribute
{
    public string Path { get; } = path;
    public Rights Rights { get; } = rights;
    public string? As { get; init; }
}

/// <summary>A capability request as parsed from the manifest.</summary>
public sealed record ModuleCapabilityRequest(string Path, Rights Rights, string LocalName);

/// <summary>The validated manifest of a module assembly.</summary>
public sealed record ModuleManifest(string Name, string Description, string AssemblyName, IReadOnlyList<ModuleCapabilityRequest> Capabilities)
{
    public const int MaxCapabilityRequests = 64;

    /// <summary>Reads and validates the manifest attributes of a loaded module assembly.</summary>
    internal static Result<(ModuleManifest Manifest, Type EntryType)> Read(Assembly assembly)
    {
        PhotonModuleAttribute? module;
        ModuleCapabilityAttribute[] requests;
        try
        {
            module = assembly.GetCustomAttribute<PhotonModuleAttribute>();
            requests = assembly.GetCustomAttributes<ModuleCapabilityAttribute>().ToArray();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return Errors.Of(ErrorCode.Corrupted, $"module manifest cannot be read: {e.Message}");
        }
        if (module is null) return Errors.Of(ErrorCode.InvalidArgument, $"{assembly.GetName().Name} has no [PhotonModule] manifest");
        var valid = NamespacePath.ValidateName(module.Name);
        if (!valid.IsOk) return Errors.Of(ErrorCode.InvalidName, $"module name '{module.Name}': {valid.Error.Message}");
        var entry = module.EntryType;
        if (entry is null || !typeof(IKernelModule).IsAssignableFrom(entry) || entry.IsAbstract || entry.GetConstructor(Type.EmptyTypes) is null)
            return Errors.Of(ErrorCode.InvalidArgument, $"module '{module.Name}': entry type must be a concrete IKernelModule with a public parameterless constructor");
        if (!ReferenceEquals(entry.Assembly, assembly))
            return Errors.Of(ErrorCode.InvalidArgument, $"module '{module.Name}': entry type must be defined in the module assembly");
        if (requests.Length > MaxCapabilityRequests)
            return Errors.Of(ErrorCode.QuotaExceeded, $"module '{module.Name}' asks for more than {MaxCapabilityRequests} capabilities");
        var list = new List<ModuleCapabilityRequest>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var r in requests)
        {
            var parts = NamespacePath.Split(r.Path);
            if (!parts.IsOk) return Errors.Of(ErrorCode.InvalidName, $"module '{module.Name}': capability path '{r.Path}': {parts.Error.Message}");
            if (parts.Value.Length == 0) return Errors.Of(ErrorCode.InvalidName, $"module '{module.Name}': a capability path must name something");
            if ((r.Rights & ~Rights.All) != 0 || r.Rights == Rights.None)
                return Errors.Of(ErrorCode.InvalidArgument, $"module '{module.Name}': capability '{r.Path}' asks for invalid rights");
            var local = r.As ?? parts.Value[^1];
            var lv = NamespacePath.ValidateName(local);
            if (!lv.IsOk) return Errors.Of(ErrorCode.InvalidName, $"module '{module.Name}': local name '{local}': {lv.Error.Message}");
            if (!names.Add(local)) return Errors.Of(ErrorCode.AlreadyExists, $"module '{module.Name}' asks for two capabilities named '{local}'");
            list.Add(new ModuleCapabilityRequest(NamespacePath.Join(parts.Value), r.Rights, local));
        }
        return (new ModuleManifest(module.Name, module.Description, assembly.GetName().Name ?? module.Name, list), entry);
    }
}

/// <summary>
/// A module's entry point. The loader calls <see cref="StartAsync"/> once after granting the manifest's capabilities
/// and <see cref="StopAsync"/> once before revoking them; both are bounded by the loader's timeout, and an exception they
/// throw is caught (the module is marked faulted). Implementations are trusted kernel code (see <see cref="ModuleLoader"/>).
/// </summary>
public interface IKernelModule
{
    Task<Result> StartAsync(ModuleContext context, CancellationToken cancellationToken);
    Task<Result> StopAsync(CancellationToken cancellationToken);
}
