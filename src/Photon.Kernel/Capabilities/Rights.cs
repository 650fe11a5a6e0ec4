namespace Photon.Kernel.Capabilities;

/// <summary>What a capability lets its holder do. Derivation can only remove rights, never add them.</summary>
[Flags]
public enum Rights : uint
{
    None = 0,
    Read = 1 << 0,
    Write = 1 << 1,
    Execute = 1 << 2,
    /// <summary>Map a memory region into the holder's address space (get direct span access).</summary>
    Map = 1 << 3,
    /// <summary>Derive new capabilities from this one to hand to others.</summary>
    Delegate = 1 << 4,
    /// <summary>List the contents (namespace bindings, directories).</summary>
    Enumerate = 1 << 5,
    /// <summary>Create children (child namespaces, files, processes).</summary>
    Create = 1 << 6,
    Delete = 1 << 7,
    /// <summary>Bind names in a namespace, or bind a network port.</summary>
    Bind = 1 << 8,
    Connect = 1 << 9,
    Listen = 1 << 10,
    Signal = 1 << 11,
    /// <summary>Administrative control of the object (destroy a process, unload a module).</summary>
    Manage = 1 << 12,
    /// <summary>Move the capability to another process over IPC.</summary>
    Transfer = 1 << 13,

    ReadWrite = Read | Write,
    All = Read | Write | Execute | Map | Delegate | Enumerate | Create | Delete | Bind | Connect | Listen | Signal | Manage | Transfer,
}

public static class RightsExtensions
{
    public static bool Includes(this Rights have, Rights need) => (have & need) == need;

    /// <summary>Short form for reports, e.g. "rw-m d".</summary>
    public static string ToShortString(this Rights r)
    {
        if (r == Rights.None) return "none";
        if (r == Rights.All) return "all";
        return r.ToString().Replace(", ", "|");
    }
}
