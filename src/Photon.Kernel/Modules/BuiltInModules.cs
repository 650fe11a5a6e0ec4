using System.Reflection;

namespace Photon.Kernel.Modules;

/// <summary>A module compiled into the kernel binary (Linux's <c>=y</c> beside <c>=m</c>): its code is part of the
/// image that was started, so there is no file to read, pin or load — but it is started, confined and stopped exactly
/// like a loaded one (its own process and namespace, only the capabilities its manifest asks for, all revoked at
/// unload). Its code is never unloaded.</summary>
/// <param name="Location">The module's assembly name, which is also the file name a loadable build ships it as.</param>
/// <param name="Assembly">The compiled-in assembly carrying the module's manifest attributes.</param>
/// <param name="Create">Makes the entry point (no reflection activation: an ahead-of-time build cannot do it).</param>
public sealed record BuiltInModule(string Location, Assembly Assembly, Func<IKernelModule> Create);

/// <summary>The modules a kernel binary has built in, found by the file name (without extension) a load names — so a
/// configuration written for the loadable build (<c>/opt/photon/Photon.FileSystems.Fat.dll</c>) starts the built-in.</summary>
public sealed class BuiltInModules
{
    private readonly Dictionary<string, BuiltInModule> _byName;

    public BuiltInModules(IEnumerable<BuiltInModule> modules) =>
        _byName = modules.ToDictionary(m => m.Location, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public BuiltInModule? Find(string location) =>
        _byName.TryGetValue(Path.GetFileNameWithoutExtension(location), out var m) ? m : null;
}
