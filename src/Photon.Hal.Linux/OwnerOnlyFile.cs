namespace Photon.Kernel.Hal.Host;

/// <summary>Creation options and checks for files only their owner may touch (mode 0600): keys and anchors.</summary>
internal static class OwnerOnlyFile
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Options that create the file with mode 0600 from the start (the umask can only remove bits), so the
    /// secret is never readable by others, not even between create and chmod.</summary>
    public static FileStreamOptions CreateOptions(FileMode mode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerReadWrite;
        return options;
    }

    /// <summary>Refuses a file that group or others may read or write: a key anyone else can read is no key.</summary>
    public static Result CheckPrivate(string path)
    {
        if (OperatingSystem.IsWindows()) return Result.Ok;
        var mode = File.GetUnixFileMode(path);
        return (mode & Others) == 0
            ? Result.Ok
            : Result.Fail(ErrorCode.AccessDenied, $"'{path}' is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); chmod 600 it");
    }
}
