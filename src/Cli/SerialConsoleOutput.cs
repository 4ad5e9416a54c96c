namespace VmReplay.Cli;

/// <summary>
/// The guest's serial output on this process's stdout, written in batches: a console stream
/// makes one write(2) per byte, and a Linux boot's 30,000 bytes of console output took 13 % of
/// its run on the software CPU. Bytes wait at most <see cref="Latency"/> (a timer flushes them),
/// so a guest printing slowly still shows each line at once; <see cref="Flush"/> writes them now.
/// The timer paces output only: nothing the guest can observe depends on it.
/// </summary>
internal sealed class SerialConsoleOutput : Stream
{
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(20);
    private readonly Stream _stdout = Console.OpenStandardOutput();
    private readonly byte[] _buffer = new byte[16 << 10];
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private int _count;
    private bool _armed;

    public SerialConsoleOutput() => _timer = new Timer(_ => Flush());

    public override void WriteByte(byte value)
    {
        lock (_lock)
        {
            if (_count == _buffer.Length) FlushLocked();
            _buffer[_count++] = value;
            if (!_armed)
            {
                _armed = true;
                _timer.Change(Latency, Timeout.InfiniteTimeSpan);
            }
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        for (int i = 0; i < count; i++) WriteByte(buffer[offset + i]);
    }

    public override void Flush()
    {
        lock (_lock) FlushLocked();
    }

    private void FlushLocked()
    {
        _armed = false;
        if (_count == 0) return;
        // A closed pipe (the reader went away) loses the output, as a direct write would.
        try { _stdout.Write(_buffer, 0, _count); }
        catch (IOException) { }
        _count = 0;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timer.Dispose();
            Flush();
            _stdout.Dispose();
        }
        base.Dispose(disposing);
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
