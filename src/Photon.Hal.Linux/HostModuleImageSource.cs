using Photon.Kernel.Modules;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IModuleImageSource"/>: module DLLs and their private dependencies are files.</summary>
public sealed class HostModuleImageSource : IModuleImageSource
{
    /// <summary>Refuse anything bigger: a module image is loaded whole into memory.</summary>
    public const long MaxImageBytes = 64L * 1024 * 1024;

    public Result<byte[]> ReadModule(string location)
    {
        if (string.IsNullOrWhiteSpace(location) || location.Contains('\0'))
            return Errors.Of(ErrorCode.InvalidArgument, "module location is empty or contains NUL");
        return ReadFile(Path.GetFullPath(location));
    }

    public Result<byte[]> ReadDependency(string location, string assemblyName)
    {
        // Only a plain file name next to the module: no separators, no relative segments.
        if (string.IsNullOrEmpty(assemblyName) || assemblyName.IndexOfAny(['/', '\\', '\0']) >= 0 || assemblyName is "." or "..")
            return Errors.Of(ErrorCode.InvalidName, $"'{assemblyName}' is not an assembly name");
        var dir = Path.GetDirectoryName(Path.GetFullPath(location));
        if (dir is null) return Errors.Of(ErrorCode.NotFound, $"no directory for '{location}'");
        var path = Path.Combine(dir, assemblyName + ".dll");
        return File.Exists(path) ? ReadFile(path) : Errors.Of(ErrorCode.NotFound, $"{assemblyName}.dll is not next to the module");
    }

    private static Result<byte[]> ReadFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) return Errors.Of(ErrorCode.NotFound, $"module image '{path}' does not exist");
            if (info.Length > MaxImageBytes) return Errors.Of(ErrorCode.QuotaExceeded, $"module image '{path}' is larger than {MaxImageBytes} bytes");
            return File.ReadAllBytes(path);
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }
}
