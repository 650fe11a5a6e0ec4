using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Photon.Kernel.Modules;

/// <summary>
/// A module's image and every private dependency it ships (transitively, as named by assembly references), each read
/// exactly once and checked — metadata, kernel/framework names, pins — before any of it is loaded. The load context
/// then serves only these bytes, so the code that runs is the code that was checked.
/// </summary>
internal sealed class ModuleImageSet
{
    public const int MaxDependencies = 64;

    private ModuleImageSet(string assemblyName, string digest, Dictionary<string, byte[]> dependencies)
    {
        AssemblyName = assemblyName;
        Digest = digest;
        Dependencies = dependencies;
    }

    public string AssemblyName { get; }

    /// <summary>SHA-256 of the module's own image (hex).</summary>
    public string Digest { get; }

    /// <summary>Private dependencies by assembly name (the framework and Photon.Kernel are never among them).</summary>
    public IReadOnlyDictionary<string, byte[]> Dependencies { get; }

    public static Result<ModuleImageSet> Read(IModuleImageSource source, string location, byte[] image, ModulePins? pins)
    {
        var root = Inspect(image, location);
        if (!root.IsOk) return root.Error;
        var (name, references) = root.Value;
        if (ModuleLoadContext.IsShared(name))
            return Errors.Of(ErrorCode.InvalidArgument, $"'{name}' is a kernel or framework assembly, not a module");
        var digest = ModulePins.DigestOf(image);
        if (pins is not null && !pins.Allows(digest))
            return Errors.Of(ErrorCode.AccessDenied, $"module image '{location}' (sha256 {digest}) is not pinned");

        var deps = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { name };
        var queue = new Queue<string>(references);
        while (queue.TryDequeue(out var dep))
        {
            if (ModuleLoadContext.IsShared(dep) || !seen.Add(dep)) continue;
            var bytes = source.ReadDependency(location, dep);
            // Not shipped with the module: the host's copy (the default load context) serves it.
            if (bytes.Code == ErrorCode.NotFound) continue;
            if (!bytes.IsOk) return bytes.Error;
            if (deps.Count == MaxDependencies)
                return Errors.Of(ErrorCode.QuotaExceeded, $"module '{name}' ships more than {MaxDependencies} private assemblies");
            var meta = Inspect(bytes.Value, $"{dep}.dll next to '{location}'");
            if (!meta.IsOk) return meta.Error;
            if (!string.Equals(meta.Value.Name, dep, StringComparison.OrdinalIgnoreCase))
                return Errors.Of(ErrorCode.Corrupted, $"{dep}.dll next to '{location}' is assembly '{meta.Value.Name}'");
            var depDigest = ModulePins.DigestOf(bytes.Value);
            if (pins is not null && !pins.Allows(depDigest))
                return Errors.Of(ErrorCode.AccessDenied, $"dependency {dep}.dll of module '{name}' (sha256 {depDigest}) is not pinned");
            deps[dep] = bytes.Value;
            foreach (var r in meta.Value.References) queue.Enqueue(r);
        }
        return new ModuleImageSet(name, digest, deps);
    }

    /// <summary>The assembly's own name and the names it references, read from metadata without loading it.</summary>
    private static Result<(string Name, List<string> References)> Inspect(byte[] image, string what)
    {
        try
        {
            using var pe = new PEReader(new MemoryStream(image, writable: false));
            if (!pe.HasMetadata) return Errors.Of(ErrorCode.Corrupted, $"'{what}' is not a valid assembly: no metadata");
            var md = pe.GetMetadataReader();
            if (!md.IsAssembly) return Errors.Of(ErrorCode.Corrupted, $"'{what}' is not a valid assembly: no assembly manifest");
            var name = md.GetString(md.GetAssemblyDefinition().Name);
            var refs = md.AssemblyReferences.Select(h => md.GetString(md.GetAssemblyReference(h).Name)).ToList();
            return (name, refs);
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException)
        {
            return Errors.Of(ErrorCode.Corrupted, $"'{what}' is not a valid assembly: {e.Message}");
        }
    }
}
