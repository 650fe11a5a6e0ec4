using Photon.Kernel.Capabilities;

namespace Photon.Kernel.Namespaces;

/// <summary>
/// A scope of names. Each name binds a capability (to any object, including a child namespace). A namespace holds no
/// reference to its parent's names, so code attached to it can reach only what was bound into it.
/// </summary>
public sealed class Namespace : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Namespace;

    internal readonly Dictionary<string, NamespaceBinding> Bindings = new(StringComparer.Ordinal);

    internal Namespace(string path, Namespace? parent) : base(path)
    {
        Path = path;
        Parent = parent;
        Depth = parent is null ? 0 : parent.Depth + 1;
    }

    /// <summary>How many names below the root it sits (the root is 0): at most <see cref="NamespacePath.MaxDepth"/>,
    /// the deepest path a lookup accepts.</summary>
    public int Depth { get; }

    /// <summary>Absolute path from the root namespace (for reports and audit only, never for resolution).</summary>
    public string Path { get; }

    /// <summary>The namespace this one was created in; used for reporting the tree, never for lookups.</summary>
    public Namespace? Parent { get; }

    /// <summary>Set when the namespace is destroyed; it then refuses all operations.</summary>
    public bool IsClosed { get; internal set; }

    public int BindingCount { get { lock (Bindings) return Bindings.Count; } }
}

/// <summary>What a name is bound to: a capability, or an alias (a path resolved within the defining namespace).
/// An alias holds no capability, so the kernel memory it takes (<see cref="ChargedBytes"/>) is charged to the
/// principal that bound it (<see cref="ChargedTo"/>) and given back when it is unbound or its namespace destroyed.</summary>
public sealed record NamespaceBinding(string Name, CapabilityToken Token, string? AliasTarget)
{
    public bool IsAlias => AliasTarget is not null;
    internal Principal ChargedTo { get; init; }
    internal long ChargedBytes { get; init; }
}
