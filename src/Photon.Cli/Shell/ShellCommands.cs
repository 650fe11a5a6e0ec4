using Photon.Kernel;

namespace Photon.Cli.Shell;

/// <summary>One shell command: its name, a usage line, a one-line summary and what it runs.</summary>
public sealed record ShellCommand(string Name, string Usage, string Summary, Func<ShellSession, string[], Task<Result>> Run);

/// <summary>
/// The shell's command table (one group of commands per file beside this one) and the dispatcher that runs a parsed
/// line, each command as a task of the shell's process.
/// </summary>
public static class ShellCommands
{
    public static readonly IReadOnlyList<ShellCommand> All =
    [
        .. FileCommands.All,
        .. NamespaceCommands.All,
        .. ProcessCommands.All,
        .. MountCommands.All,
        .. NetCommands.All,
        .. AuditCommands.All,
        .. RunCommands.All,
        .. TraceCommands.All,
        new("help", "help [COMMAND]", "List the commands, or show one command's usage.", Help),
        new("exit", "exit", "Leave the shell (the kernel shuts down).", (s, _) => { s.ExitRequested = true; return Task.FromResult(Result.Ok); }),
    ];

    public static ShellCommand? Find(string name) => All.FirstOrDefault(c => c.Name == name);

    /// <summary>Runs every command of <paramref name="line"/> in order; errors are printed as "error: Code: detail"
    /// and the next command still runs. Returns false if the line did not parse or any command failed.</summary>
    public static async Task<bool> ExecuteLineAsync(ShellSession s, string line)
    {
        var parsed = ShellCommandLine.Parse(line);
        if (!parsed.IsOk) { s.Out.WriteLine($"error: {parsed.Error}"); return false; }
        bool ok = true;
        foreach (var words in parsed.Value)
        {
            if (s.ExitRequested) break;
            var r = await ExecuteAsync(s, words).ConfigureAwait(false);
            if (!r.IsOk) { s.Out.WriteLine($"error: {r.Error}"); ok = false; }
        }
        s.Out.Flush();
        return ok;
    }

    public static Task<Result> ExecuteAsync(ShellSession s, string[] words)
    {
        var cmd = Find(words[0]);
        if (cmd is null) return Task.FromResult(Result.Fail(ErrorCode.NotFound, $"unknown command '{words[0]}' (try 'help')"));
        if (words.Skip(1).Any(w => w is "-h" or "--help")) { s.Out.WriteLine($"usage: {cmd.Usage}\n  {cmd.Summary}"); return Task.FromResult(Result.Ok); }
        return s.RunAsTaskAsync(_ => cmd.Run(s, words[1..]), cmd.Name);
    }

    /// <summary>A usage error for <paramref name="name"/>: typed, with the usage line.</summary>
    public static Result Usage(string name) =>
        Result.Fail(ErrorCode.InvalidArgument, $"usage: {Find(name)?.Usage ?? name}");

    private static Task<Result> Help(ShellSession s, string[] args)
    {
        if (args.Length > 0)
        {
            var cmd = Find(args[0]);
            if (cmd is null) return Task.FromResult(Result.Fail(ErrorCode.NotFound, $"unknown command '{args[0]}'"));
            s.Out.WriteLine($"usage: {cmd.Usage}\n  {cmd.Summary}");
            return Task.FromResult(Result.Ok);
        }
        int width = All.Max(c => c.Usage.Length);
        foreach (var c in All) s.Out.WriteLine($"  {c.Usage.PadRight(width)}  {c.Summary}");
        return Task.FromResult(Result.Ok);
    }
}
