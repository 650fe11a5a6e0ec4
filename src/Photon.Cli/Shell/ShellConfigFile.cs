using Photon.Cli.Demo;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal;
using Photon.Kernel.Quotas;
using Photon.Sandbox;

namespace Photon.Cli.Shell;

/// <summary>
/// The system a <c>photon shell --config FILE</c> boots, one component per line (blank lines and <c>#</c> comments
/// are skipped), brought up in file order:
/// <code>
/// tenant NAME [memory=MiB] [tasks=N] [caps=N] [ipc=N]
/// device NAME IMAGE [ro]                 # an NVMe-style block device over a host disk image, at /dev/NAME
/// mount NAME DEVICE PATH=RIGHTS… [ro]    # FAT or ext4 (the modules are loaded once, when the first mount asks)
/// sandbox                                # the Wasm sandbox at /sandbox
/// </code>
/// RIGHTS as the shell reads them (ro, rw, all, or names joined by '|'). Errors name the line.
/// </summary>
public static class ShellConfigFile
{
    /// <summary>Largest config file read, and most components it may name.</summary>
    public const int MaxBytes = 64 * 1024, MaxComponents = 256;

    public static Result<KernelConfig> Load(string path, Platform platform)
    {
        string text;
        try
        {
            if (new FileInfo(path).Length > MaxBytes) return Errors.Of(ErrorCode.InvalidArgument, $"larger than {MaxBytes} bytes");
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Errors.Of(ErrorCode.NotFound, e.Message); }
        return Parse(text, platform, Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".");
    }

    /// <summary>Parses config text; relative image paths are taken from <paramref name="baseDir"/>.</summary>
    public static Result<KernelConfig> Parse(string text, Platform platform, string baseDir)
    {
        var components = new List<IKernelComponent>();
        bool modules = false;
        var lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            var words = lines[n].Split('#')[0].Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0) continue;
            if (components.Count >= MaxComponents) return Errors.Of(ErrorCode.InvalidArgument, $"more than {MaxComponents} components");
            KernelError Bad(string why) => Errors.Of(ErrorCode.InvalidArgument, $"line {n + 1}: {why}");
            switch (words)
            {
                case ["tenant", var name, .. var limits]:
                    {
                        if (!Photon.Kernel.Namespaces.NamespacePath.ValidateName(name).IsOk) return Bad($"bad tenant name '{name}'");
                        var q = ParseLimits(limits);
                        if (!q.IsOk) return Bad(q.Error.Message);
                        components.Add(new TenantComponent(name, q.Value));
                        break;
                    }
                case ["device", var name, var image, .. var rest] when rest is [] or ["ro"]:
                    {
                        if (!Photon.Kernel.Namespaces.NamespacePath.ValidateName(name).IsOk) return Bad($"bad device name '{name}'");
                        var full = Path.GetFullPath(image, baseDir);
                        if (!File.Exists(full)) return Bad($"no disk image {full}");
                        components.Add(new BlockDeviceComponent(name, full, readOnly: rest is ["ro"]));
                        break;
                    }
                case ["mount", var name, var device, .. var rest] when rest.Length > 0:
                    {
                        bool ro = rest[^1] == "ro";
                        var bindings = new List<MountBinding>();
                        foreach (var spec in ro ? rest[..^1] : rest)
                        {
                            int eq = spec.LastIndexOf('=');
                            if (eq <= 0) return Bad($"a mount binding is PATH=RIGHTS, not '{spec}'");
                            var rights = ShellRights.Parse(spec[(eq + 1)..]);
                            if (!rights.IsOk) return Bad(rights.Error.Message);
                            bindings.Add(new MountBinding(spec[..eq], rights.Value & VirtualFileSystem.MountRights));
                        }
                        if (bindings.Count == 0) return Bad("a mount needs at least one PATH=RIGHTS binding");
                        if (!modules)
                        {
                            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")));
                            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Ext4")));
                            modules = true;
                        }
                        components.Add(new MountComponent(name, device, bindings, new MountOptions(ReadOnly: ro)));
                        break;
                    }
                case ["sandbox"]:
                    components.Add(new SandboxComponent());
                    break;
                default:
                    return Bad($"unknown line '{string.Join(' ', words)}' (tenant, device, mount, sandbox)");
            }
        }
        return new KernelConfig { Platform = platform, Components = components };
    }

    private static Result<QuotaLimits> ParseLimits(string[] specs)
    {
        var q = new QuotaLimits();
        foreach (var spec in specs)
        {
            var kv = spec.Split('=', 2);
            if (kv.Length != 2 || !long.TryParse(kv[1], out long v) || v < 1 || v > int.MaxValue)
                return Errors.Of(ErrorCode.InvalidArgument, $"a limit is NAME=N (1..{int.MaxValue}), not '{spec}'");
            q = kv[0] switch
            {
                "memory" => q with { MemoryBytes = v * 1024 * 1024 },
                "tasks" => q with { Tasks = (int)v },
                "caps" => q with { Capabilities = (int)v },
                "ipc" => q with { IpcQueueDepth = (int)v },
                _ => null!,
            };
            if (q is null) return Errors.Of(ErrorCode.InvalidArgument, $"unknown limit '{kv[0]}' (memory, tasks, caps, ipc)");
        }
        return q;
    }
}
