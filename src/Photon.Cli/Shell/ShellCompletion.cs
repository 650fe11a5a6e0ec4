using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;

namespace Photon.Cli.Shell;

/// <summary>
/// Tab completion for the line editor: command names in the first word, sub-commands where a command has them, and
/// otherwise paths — names bound in the shell's namespace and entries of mounted directories, looked up with the
/// shell's own system calls (so completion shows only what the shell could open).
/// </summary>
public static class ShellCompletion
{
    private static readonly Dictionary<string, string[]> SubCommands = new()
    {
        ["ns"] = ["tree", "bind", "unbind"], ["ip"] = ["addr", "route"], ["audit"] = ["tail"], ["trace"] = ["start", "stop"],
    };

    /// <summary>Longest a completion lookup may take before it is given up (it runs as a shell task).</summary>
    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Candidates for the word that starts at <paramref name="wordStart"/> in <paramref name="beforeCursor"/>.</summary>
    public static IReadOnlyList<string> Candidates(ShellSession s, string beforeCursor, int wordStart)
    {
        var earlier = beforeCursor[..wordStart].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (earlier.Length == 0 || earlier[^1] == ";") return ShellCommands.All.Select(c => c.Name).ToArray();
        if (earlier.Length == 1 && SubCommands.TryGetValue(earlier[0], out var subs)) return subs;
        return Paths(s, beforeCursor[wordStart..]);
    }

    private static IReadOnlyList<string> Paths(ShellSession s, string word)
    {
        int slash = word.LastIndexOf('/');
        var dirPart = slash < 0 ? "" : word[..(slash + 1)];
        var dir = ShellPaths.Absolute(dirPart.Length > 1 ? dirPart.TrimEnd('/') : "/");
        var names = new List<string>();
        var listed = s.RunAsTaskAsync(async _ =>
        {
            var files = await s.Sys.Files!.ReadDirectoryAsync(s.Self, dir).ConfigureAwait(true);
            if (files.IsOk)
            {
                lock (names) names.AddRange(files.Value.Select(e => e.Kind == FileKind.Directory ? e.Name + "/" : e.Name));
                return Result.Ok;
            }
            var bound = s.Sys.Namespaces.List(s.Self, dir);
            if (bound.IsOk)
                lock (names) names.AddRange(bound.Value.Select(e => e.Kind is ObjectKind.Namespace or ObjectKind.Mount ? e.Name + "/" : e.Name));
            return Result.Ok;
        }, "complete");
        if (!listed.Wait(LookupTimeout)) return [];
        lock (names) return names.Select(n => dirPart + n).Order(StringComparer.Ordinal).ToArray();
    }
}
