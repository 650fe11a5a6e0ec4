using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;

namespace Photon.Cli.Shell;

/// <summary>
/// ls, cat, cp, mkdir, rm: file system calls on the mounts bound in the shell's namespace. <c>ls</c> of a name that
/// is not under a mount lists the namespace there instead (what is bound, its kind and rights).
/// </summary>
public static class FileCommands
{
    /// <summary>Bytes moved per read/write system call.</summary>
    private const int ChunkBytes = 64 * 1024;

    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("ls", "ls [PATH]", "List a directory of a mount, or the names bound in a namespace.", Ls),
        new("cat", "cat PATH", "Print a file.", Cat),
        new("cp", "cp FROM TO", "Copy a file (TO is created or truncated).", Cp),
        new("mkdir", "mkdir PATH", "Create a directory on a mount.", Mkdir),
        new("rm", "rm PATH", "Delete a file or an empty directory on a mount.", Rm),
    ];

    private static async Task<Result> Ls(ShellSession s, string[] args)
    {
        if (args.Length > 1) return ShellCommands.Usage("ls");
        var path = ShellPaths.Absolute(args.Length == 0 ? "/" : args[0]);
        var dir = await s.Sys.Files!.ReadDirectoryAsync(s.Self, path).ConfigureAwait(true);
        if (dir.IsOk)
        {
            foreach (var e in dir.Value.OrderBy(e => e.Name, StringComparer.Ordinal))
                s.Out.WriteLine(e.Kind == FileKind.Directory ? $"{e.Name}/" : $"{e.Name,-32} {e.Length,10}");
            return Result.Ok;
        }
        // Not under a mount (NotFound from the VFS means no mount covers the path): list the namespace there.
        if (dir.Code != ErrorCode.NotFound) return dir.Error;
        var names = s.Sys.Namespaces.List(s.Self, path);
        if (!names.IsOk) return names.Code == ErrorCode.NotFound ? dir.Error : names.Error;
        foreach (var e in names.Value.OrderBy(e => e.Name, StringComparer.Ordinal))
            s.Out.WriteLine(e.AliasTarget is not null ? $"{e.Name} -> {e.AliasTarget}"
                : $"{(e.Kind == ObjectKind.Namespace || e.Kind == ObjectKind.Mount ? e.Name + "/" : e.Name),-32} {e.Kind,-12} {(e.IsLive ? e.Rights.ToShortString() : "revoked")}");
        return Result.Ok;
    }

    private static async Task<Result> Cat(ShellSession s, string[] args)
    {
        if (args.Length != 1) return ShellCommands.Usage("cat");
        var files = s.Sys.Files!;
        var f = await files.OpenAsync(s.Self, ShellPaths.Absolute(args[0]), Rights.Read).ConfigureAwait(true);
        if (!f.IsOk) return f.Error;
        try
        {
            var buffer = new byte[ChunkBytes];
            var decoder = Encoding.UTF8.GetDecoder();
            var chars = new char[Encoding.UTF8.GetMaxCharCount(ChunkBytes)];
            for (long offset = 0; ;)
            {
                var n = await files.ReadAsync(s.Self, f.Value, offset, buffer).ConfigureAwait(true);
                if (!n.IsOk) return n.Error;
                if (n.Value == 0) break;
                int c = decoder.GetChars(buffer, 0, n.Value, chars, 0);
                s.Out.Write(chars, 0, c);
                offset += n.Value;
            }
            return Result.Ok;
        }
        finally { files.Close(s.Self, f.Value); }
    }

    private static async Task<Result> Cp(ShellSession s, string[] args)
    {
        if (args.Length != 2) return ShellCommands.Usage("cp");
        var files = s.Sys.Files!;
        var from = await files.OpenAsync(s.Self, ShellPaths.Absolute(args[0]), Rights.Read).ConfigureAwait(true);
        if (!from.IsOk) return from.Error;
        try
        {
            var to = await files.OpenAsync(s.Self, ShellPaths.Absolute(args[1]), Rights.Write, OpenFlags.Create | OpenFlags.Truncate).ConfigureAwait(true);
            if (!to.IsOk) return to.Error;
            try
            {
                var buffer = new byte[ChunkBytes];
                long offset = 0;
                while (true)
                {
                    var n = await files.ReadAsync(s.Self, from.Value, offset, buffer).ConfigureAwait(true);
                    if (!n.IsOk) return n.Error;
                    if (n.Value == 0) break;
                    var w = await files.WriteAsync(s.Self, to.Value, offset, buffer.AsMemory(0, n.Value)).ConfigureAwait(true);
                    if (!w.IsOk) return w.Error;
                    offset += n.Value;
                }
                var flushed = await files.FlushAsync(s.Self, to.Value).ConfigureAwait(true);
                if (flushed.IsOk) s.Out.WriteLine($"{offset} bytes copied");
                return flushed;
            }
            finally { files.Close(s.Self, to.Value); }
        }
        finally { files.Close(s.Self, from.Value); }
    }

    private static async Task<Result> Mkdir(ShellSession s, string[] args) =>
        args.Length != 1 ? ShellCommands.Usage("mkdir") : await s.Sys.Files!.CreateDirectoryAsync(s.Self, ShellPaths.Absolute(args[0])).ConfigureAwait(true);

    private static async Task<Result> Rm(ShellSession s, string[] args) =>
        args.Length != 1 ? ShellCommands.Usage("rm") : await s.Sys.Files!.DeleteAsync(s.Self, ShellPaths.Absolute(args[0])).ConfigureAwait(true);
}
