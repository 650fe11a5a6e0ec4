using System.Text;
using Photon.Kernel.Processes;
using Photon.Net.Syscalls;

namespace Photon.Net.Services;

internal enum HeadOutcome { Complete, TooLarge, PeerClosed, DeadlineOrError }

/// <summary>
/// Reads request heads off one connection into a fixed buffer. Bytes after a head (pipelined requests) stay buffered
/// for the next read; nothing beyond the buffer is read until earlier requests are answered, so read-ahead is bounded.
/// </summary>
internal sealed class HeadReader(Process process, Handle conn, int capacity)
{
    private readonly byte[] _buffer = new byte[capacity];
    private int _used;

    /// <summary>Bytes received and not yet consumed as a head.</summary>
    public int Buffered => _used;

    public async Task<(string? Head, HeadOutcome Outcome)> ReadAsync(CancellationToken ct)
    {
        while (true)
        {
            int end = _buffer.AsSpan(0, _used).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, 0, end);
                int consumed = end + 4;
                Buffer.BlockCopy(_buffer, consumed, _buffer, 0, _used - consumed);
                _used -= consumed;
                return (head, HeadOutcome.Complete);
            }
            if (_used == _buffer.Length) return (null, HeadOutcome.TooLarge);
            var n = await SocketSyscalls.ReceiveAsync(process, conn, _buffer.AsMemory(_used), ct).ConfigureAwait(false);
            if (!n.IsOk) return (null, HeadOutcome.DeadlineOrError);
            if (n.Value == 0) return (null, HeadOutcome.PeerClosed);
            _used += n.Value;
        }
    }
}
