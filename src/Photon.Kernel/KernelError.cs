namespace Photon.Kernel;

/// <summary>Every way a kernel operation can fail. Syscall-like APIs return these instead of throwing.</summary>
public enum ErrorCode
{
    None = 0,
    InvalidArgument,
    /// <summary>A handle number that is not in the caller's handle table (or was closed).</summary>
    InvalidHandle,
    /// <summary>A token whose id was never issued: forged or garbage.</summary>
    UnknownCapability,
    /// <summary>A token whose generation does not match the live capability (a recycled slot).</summary>
    StaleCapability,
    /// <summary>The capability (or an ancestor it was derived from) has been revoked.</summary>
    Revoked,
    /// <summary>The capability lacks a right the operation needs.</summary>
    AccessDenied,
    /// <summary>The capability names an object of a different kind than the operation expects.</summary>
    WrongObjectType,
    OutOfMemory,
    DoubleFree,
    OutOfRange,
    NotFound,
    AlreadyExists,
    InvalidName,
    NotEmpty,
    QuotaExceeded,
    Cancelled,
    TimedOut,
    /// <summary>A bounded queue or ring is full; retry later (back-pressure).</summary>
    WouldBlock,
    Closed,
    Busy,
    IoError,
    /// <summary>On-disk or on-wire data failed validation.</summary>
    Corrupted,
    NotSupported,
    ReadOnly,
    NoSpace,
    NotADirectory,
    IsADirectory,
    ConnectionRefused,
    ConnectionReset,
    AddressInUse,
    Unreachable,
    ModuleFault,
    Faulted,
    /// <summary>Too many symbolic links followed while resolving one path (a loop; Linux's ELOOP).</summary>
    TooManyLinks,
}

/// <summary>A typed kernel error: a code plus a human-readable detail.</summary>
public readonly record struct KernelError(ErrorCode Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
    public KernelException ToException() => new(this);
}

/// <summary>
/// Thrown only inside kernel code or by <see cref="Result{T}.Unwrap"/>; public syscall-like entry points
/// catch it and return <see cref="Result"/>/<see cref="Result{T}"/> instead.
/// </summary>
public sealed class KernelException(KernelError error) : Exception(error.ToString())
{
    public KernelError Error { get; } = error;
    public ErrorCode Code => Error.Code;
    public KernelException(ErrorCode code, string message) : this(new KernelError(code, message)) { }
}

/// <summary>Outcome of an operation with no value.</summary>
public readonly struct Result
{
    private readonly KernelError _error;
    private Result(KernelError error) => _error = error;
    public static Result Ok => default;
    public static Result Fail(ErrorCode code, string message) => new(new KernelError(code, message));
    public static Result Fail(KernelError error) => new(error);
    public bool IsOk => _error.Code == ErrorCode.None;
    public ErrorCode Code => _error.Code;
    public KernelError Error => _error;
    public void Unwrap() { if (!IsOk) throw _error.ToException(); }
    public static implicit operator Result(KernelError error) => new(error);
    public override string ToString() => IsOk ? "Ok" : _error.ToString();
}

/// <summary>Outcome of an operation that yields a value on success.</summary>
public readonly struct Result<T>
{
    private readonly T? _value;
    private readonly KernelError _error;
    private Result(T value) { _value = value; _error = default; }
    private Result(KernelError error) { _value = default; _error = error; }
    public static Result<T> Success(T value) => new(value);
    public static Result<T> Fail(ErrorCode code, string message) => new(new KernelError(code, message));
    public static Result<T> Fail(KernelError error) => new(error);
    public bool IsOk => _error.Code == ErrorCode.None;
    public ErrorCode Code => _error.Code;
    public KernelError Error => _error;
    /// <summary>The value; throws <see cref="KernelException"/> if this is a failure.</summary>
    public T Value => IsOk ? _value! : throw _error.ToException();
    public T Unwrap() => Value;
    public bool TryGet(out T value) { value = _value!; return IsOk; }
    public Result AsResult() => IsOk ? Result.Ok : Result.Fail(_error);
    public static implicit operator Result<T>(T value) => new(value);
    public static implicit operator Result<T>(KernelError error) => new(error);
    public override string ToString() => IsOk ? $"Ok({_value})" : _error.ToString();
}

public static class Errors
{
    public static KernelError Of(ErrorCode code, string message) => new(code, message);

    /// <summary>Runs kernel code that may throw <see cref="KernelException"/> and turns it into a result.</summary>
    public static Result<T> Catch<T>(Func<T> body)
    {
        try { return body(); }
        catch (KernelException e) { return e.Error; }
    }

    public static async Task<Result<T>> CatchAsync<T>(Func<Task<T>> body)
    {
        try { return await body().ConfigureAwait(true); }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return new KernelError(ErrorCode.Cancelled, "operation cancelled"); }
    }

    public static async Task<Result> CatchAsync(Func<Task> body)
    {
        try { await body().ConfigureAwait(true); return Result.Ok; }
        catch (KernelException e) { return e.Error; }
        catch (OperationCanceledException) { return new KernelError(ErrorCode.Cancelled, "operation cancelled"); }
    }
}
