using System.Security.Cryptography;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// The audit log's HMAC key as a host file: 32 bytes from the OS CSPRNG, written as hex, created owner-only (0600)
/// and never replaced (an existing key is read, not overwritten). The key must live outside the log's own files: whoever
/// can read it can forge the log.
/// </summary>
public static class HostKeyFile
{
    public const int KeyBytes = 32;
    public const int MinKeyBytes = 16;

    /// <summary>Reads the key at <paramref name="path"/>, creating a fresh one there if none exists.</summary>
    public static Result<byte[]> LoadOrCreate(string path)
    {
        if (File.Exists(path)) return Load(path);
        var key = RandomNumberGenerator.GetBytes(KeyBytes);
        try
        {
            using (var f = new FileStream(path, OwnerOnlyFile.CreateOptions(FileMode.CreateNew)))
            {
                f.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToHexStringLower(key) + "\n"));
                f.Flush(flushToDisk: true);
            }
            return key;
        }
        // Someone created it between the check and the create: use theirs.
        catch (IOException) when (File.Exists(path)) { return Load(path); }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }

    /// <summary>Reads an existing key; refuses one that group or others can access.</summary>
    public static Result<byte[]> Load(string path)
    {
        try
        {
            if (!File.Exists(path)) return Errors.Of(ErrorCode.NotFound, $"no key file at '{path}'");
            var mode = OwnerOnlyFile.CheckPrivate(path);
            if (!mode.IsOk) return mode.Error;
            if (new FileInfo(path).Length > 4096) return Errors.Of(ErrorCode.Corrupted, $"'{path}' is too large to be a key file");
            var text = File.ReadAllText(path).Trim();
            byte[] key;
            try { key = Convert.FromHexString(text); }
            catch (FormatException) { return Errors.Of(ErrorCode.Corrupted, $"'{path}' is not a hex key"); }
            return key.Length >= MinKeyBytes ? key : Errors.Of(ErrorCode.Corrupted, $"'{path}' holds a {key.Length}-byte key; at least {MinKeyBytes} are needed");
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }
}
