namespace Photon.Kernel.Hal.Host;

/// <summary>How a host disk image is driven.</summary>
public enum HostStorageBackend
{
    /// <summary>What PHOTON_STORAGE_BACKEND says; unset, io_uring where the host offers it, else the thread pool
    /// (<see cref="PreferIoUring"/>). Callers submit and reap inline, so a chain of small dependent requests (ext4
    /// metadata and journal) pays no ring-thread wakeup; README "Host storage backends".</summary>
    Auto,
    /// <summary>io_uring where the host offers it, else the thread pool with the reason recorded.</summary>
    PreferIoUring,
    /// <summary>An io_uring per image: batched submission, registered file, one ring thread (see IoUring/IoUringFile).</summary>
    IoUring,
    /// <summary>.NET RandomAccess: each request a blocking pread/pwrite on a thread-pool thread (the fallback).</summary>
    ThreadPool,
}

/// <summary>Which backend an image gets: the caller's choice, else the environment's, else io_uring with the thread pool as fallback.</summary>
public static class HostStorageBackends
{
    /// <summary>"io_uring" or "threadpool" forces that backend for every image opened with <see cref="HostStorageBackend.Auto"/>;
    /// "auto" takes io_uring where the host offers it and falls back to the thread pool.</summary>
    public const string EnvironmentVariable = "PHOTON_STORAGE_BACKEND";

    /// <summary>The backend asked for, with Auto resolved through <see cref="EnvironmentVariable"/> (unknown values are an error).</summary>
    public static Result<HostStorageBackend> Resolve(HostStorageBackend requested, string? environment)
    {
        if (requested != HostStorageBackend.Auto) return requested;
        return environment?.Trim().ToLowerInvariant() switch
        {
            null or "" or "auto" => HostStorageBackend.PreferIoUring,
            "io_uring" or "iouring" or "uring" => HostStorageBackend.IoUring,
            "threadpool" or "thread-pool" or "fallback" => HostStorageBackend.ThreadPool,
            _ => Errors.Of(ErrorCode.InvalidArgument, $"{EnvironmentVariable}='{environment}': expected io_uring, threadpool or auto"),
        };
    }
}
