using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Modules;

public enum ModuleState { Loading, Running, Stopping, Unloaded, Faulted }

/// <summary>
/// A loaded (or failed) module as a kernel object. Capabilities to it (with <see cref="Rights.Manage"/>) let their
/// holder unload it. Holds the module's code only while it runs: after unload or a fault the load context is released
/// and <see cref="CodeReference"/> lets a caller observe it being collected.
/// </summary>
public sealed class LoadedModule : KernelObject
{
    public override ObjectKind Kind => ObjectKind.Module;

    /// <summary>What <see cref="ImageSha256"/> says for a module compiled into the kernel binary (no image was read).</summary>
    public const string BuiltInDigest = "built-in";

    internal LoadedModule(string name, string location, ModuleManifest manifest, ModuleLoadContext? alc, string imageSha256)
        : base(name)
    {
        ImageSha256 = imageSha256;
        Name = name;
        Location = location;
        Manifest = manifest;
        LoadContext = alc;
        CodeReference = new WeakReference(alc, trackResurrection: false);
    }

    public string Name { get; }
    public string Location { get; }
    public ModuleManifest Manifest { get; }

    /// <summary>SHA-256 (hex) of the image that was loaded: what a pin must list; <see cref="BuiltInDigest"/> for a
    /// built-in module.</summary>
    public string ImageSha256 { get; }

    /// <summary>Compiled into the kernel binary rather than loaded from an image.</summary>
    public bool IsBuiltIn => ReferenceEquals(ImageSha256, BuiltInDigest);

    private volatile int _state;
    public ModuleState State { get => (ModuleState)_state; internal set => _state = (int)value; }

    /// <summary>Why the module was marked faulted (ModuleFault or TimedOut), if it was.</summary>
    public KernelError? Fault { get; internal set; }

    /// <summary>Pid of the module's process while it runs.</summary>
    public int? Pid => Process?.Pid;

    /// <summary>Granted capabilities: local name and rights (what the module was handed, not a limit on what its code
    /// can reach — see <see cref="ModuleLoader"/>).</summary>
    public IReadOnlyList<ModuleCapabilityRequest> Grants => Manifest.Capabilities;

    /// <summary>Weak reference to the module's collectible load context: dead once its code has been unloaded and collected
    /// (dead from the start for a built-in module, whose code is the kernel binary's and never unloads).</summary>
    public WeakReference CodeReference { get; }

    // Strong references to the module's code and kernel resources; all cleared at teardown.
    internal ModuleLoadContext? LoadContext;
    internal IKernelModule? Entry;
    internal ModuleContext? Context;
    internal Process? Process;
    internal CapabilityToken ProcessControl;
    internal CapabilityToken NamespaceCapability;
    internal readonly Lock Gate = new();
}
