namespace Photon.Kernel.FileSystems;

[Flags]
public enum OpenFlags
{
    None = 0,
    /// <summary>Create the file if it does not exist (needs Create on the mount).</summary>
    Create = 1,
    /// <summary>With <see cref="Create"/>: fail with AlreadyExists if it does.</summary>
    Exclusive = 2,
    /// <summary>Cut the file to zero length (needs Write).</summary>
    Truncate = 4,
}
