using Photon.Kernel;
using Photon.Kernel.Namespaces;

namespace Photon.Cli.Shell;

/// <summary>Path helpers: shell paths are absolute in the shell's namespace (a relative one is taken from "/").</summary>
public static class ShellPaths
{
    public static string Absolute(string path) => path.StartsWith('/') ? path : "/" + path;

    /// <summary>"/a/b/c" → ("/a/b", "c"); the root has no parent.</summary>
    public static Result<(string Parent, string Leaf)> SplitLeaf(string path)
    {
        var parts = NamespacePath.Split(Absolute(path));
        if (!parts.IsOk) return parts.Error;
        if (parts.Value.Length == 0) return Errors.Of(ErrorCode.InvalidArgument, "the root has no parent to bind in");
        return (NamespacePath.Join(parts.Value[..^1]), parts.Value[^1]);
    }
}
