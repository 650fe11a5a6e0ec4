using Photon.Cli.Demo;
using Photon.Cli.LineEditing;
using Photon.Cli.Shell;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Hal.Host;

namespace Photon.Cli.Commands;

/// <summary>
/// `photon shell`: boots a kernel — the demo system `photon boot` assembles (<see cref="DemoSystem"/>), or the one a
/// <c>--config</c> file describes — starts the shell as a process in the root namespace or in <c>--tenant</c>'s, and
/// reads commands: with the line editor on a terminal, or line by line from <c>-c</c> or a redirected stdin.
/// Exit code: 0, or 1 when a scripted command failed; 2 for usage errors and a kernel that does not boot.
/// </summary>
public static class PhotonShellCommand
{
    public const string Usage = "photon shell [--tenant /NAME] [--config FILE] [--net] [-c \"CMD; CMD…\"]";

    public sealed record Options(string Namespace, string? ConfigFile, bool Network, string? Script);

    public static async Task<int> RunAsync(string[] args)
    {
        var parsed = Parse(args);
        if (!parsed.IsOk) { Console.Error.WriteLine($"photon shell: {parsed.Error.Message}\nusage: {Usage}"); return 2; }
        var o = parsed.Value;

        using var images = o.ConfigFile is null ? DemoImages.Unpack() : null;
        try { return await RunBootedAsync(o, images); }
        finally { NetworkDemo.Cleanup(); } // after the kernel (which owns the TAP device) has shut down
    }

    private static async Task<int> RunBootedAsync(Options o, DemoImages? images)
    {
        KernelConfig config;
        bool withNetwork = false;
        if (o.ConfigFile is not null)
        {
            var loaded = ShellConfigFile.Load(o.ConfigFile, LinuxPlatform.Create());
            if (!loaded.IsOk) { Console.Error.WriteLine($"photon shell: {o.ConfigFile}: {loaded.Error}"); return 2; }
            config = loaded.Value;
        }
        else
        {
            var noNetwork = o.Network ? NetworkDemo.SkipReason() : "not asked for";
            if (o.Network && noNetwork is not null) Console.Error.WriteLine($"photon shell: no network: {noNetwork}");
            withNetwork = o.Network && noNetwork is null;
            config = DemoSystem.Config(LinuxPlatform.Create(), images, withNetwork ? [NetworkDemo.Component()] : []);
        }
        var booted = await PhotonKernel.BootAsync(config with { EchoLog = false, ModulePins = ShippedModules.Pins, BuiltInModules = ShippedModules.BuiltIns });
        if (!booted.IsOk) { Console.Error.WriteLine($"photon shell: boot failed: {booted.Error}"); return 2; }
        await using var kernel = booted.Value;
        // As in `photon boot`: Linux's end of the TAP goes into its own network namespace, so `ping` has a peer.
        if (withNetwork && NetworkDemo.StartLinuxPeer() is { IsOk: false } peer)
            Console.Error.WriteLine($"photon shell: {peer.Error.Message}");
        else if (withNetwork)
            Console.Error.WriteLine($"photon shell: network up: Photon 10.66.0.2/24, Linux peer {NetworkDemo.PeerAddress} in netns {NetworkDemo.PeerNamespace}");
        var session = ShellSession.Start(kernel, o.Namespace, Console.Out);
        if (!session.IsOk) { Console.Error.WriteLine($"photon shell: {session.Error}"); return 2; }
        var s = session.Value;

        bool ok = true;
        if (o.Script is not null) ok = await ShellCommands.ExecuteLineAsync(s, o.Script);
        else if (Console.IsInputRedirected)
        {
            // Scripted from stdin: no prompt, no line editing; one line at a time.
            while (!s.ExitRequested && Console.In.ReadLine() is { } line)
                ok &= await ShellCommands.ExecuteLineAsync(s, line);
        }
        else
        {
            Console.WriteLine($"Photon shell as {s.Self.Principal.Name} in {o.Namespace} — 'help' lists the commands, 'exit' leaves.");
            var editor = new LineEditor(new ConsoleTerminal(), new LineHistory(), (text, start) => ShellCompletion.Candidates(s, text, start));
            var prompt = $"photon:{o.Namespace}$ ";
            while (!s.ExitRequested && editor.ReadLine(prompt) is { } line)
                await ShellCommands.ExecuteLineAsync(s, line);
        }
        return ok ? 0 : 1;
    }

    public static Result<Options> Parse(string[] args)
    {
        string ns = "/";
        string? config = null, script = null;
        bool network = false;
        for (int i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            switch (args[i])
            {
                case "--tenant":
                    var t = Next()?.Trim('/');
                    if (t is null || !Photon.Kernel.Namespaces.NamespacePath.ValidateName(t).IsOk) return Errors.Of(ErrorCode.InvalidName, "--tenant wants a top-level namespace like /tenant-a");
                    ns = "/" + t;
                    break;
                case "--config":
                    config = Next() ?? "";
                    if (config.Length == 0) return Errors.Of(ErrorCode.InvalidArgument, "--config wants a file");
                    break;
                case "-c":
                    script = Next();
                    if (script is null) return Errors.Of(ErrorCode.InvalidArgument, "-c wants commands");
                    break;
                case "--net":
                    network = true;
                    break;
                default:
                    return Errors.Of(ErrorCode.InvalidArgument, $"unknown option '{args[i]}'");
            }
        }
        return new Options(ns, config, network, script);
    }
}
