using System.Collections.Concurrent;

namespace VmReplay.Engine.Determinism;

/// <summary>
/// Host bytes for the guest's serial port, read from a stream (stdin or a file) by a background
/// thread. The guest takes them at its own pace through <see cref="TryRead"/>; nothing is
/// dropped while it is not ready.
/// </summary>
public sealed class StreamSerialInput : ISerialInput, IDisposable
{
    private readonly ConcurrentQueue<byte> _bytes = new();
    private readonly Stream _stream;
    private readonly Thread? _reader;
    private volatile bool _completed;

    private StreamSerialInput(Stream stream, bool readNow)
    {
        _stream = stream;
        if (readNow)
        {
            // A file's bytes are all there at start: no thread, no timing.
            var buffer = new byte[4096];
            int n;
            while ((n = stream.Read(buffer)) > 0)
                for (int i = 0; i < n; i++) _bytes.Enqueue(buffer[i]);
            _completed = true;
        }
        else
        {
            _reader = new Thread(ReadLoop) { IsBackground = true, Name = "vmreplay serial input" };
        }
    }

    /// <summary>Raised on the reader thread when bytes arrived (the run loop kicks the vCPU).</summary>
    public event Action? Arrived;

    /// <summary>False once the stream ended and every byte was taken.</summary>
    public bool MayHaveMore => !_completed || !_bytes.IsEmpty;

    /// <summary>No input at all: stdin is not to be read (e.g. when it is not for the guest).</summary>
    public static StreamSerialInput None() => new(Stream.Null, readNow: true);

    /// <summary>All bytes of <paramref name="path"/>, offered to the guest as it can take them.</summary>
    public static StreamSerialInput FromFile(string path)
    {
        using var f = File.OpenRead(path);
        return new StreamSerialInput(f, readNow: true);
    }

    /// <summary>Bytes from <paramref name="stream"/> as they arrive. Call <see cref="Start"/> once the consumer is ready.</summary>
    public static StreamSerialInput FromLiveStream(Stream stream) => new(stream, readNow: false);

    public void Start() => _reader?.Start();

    public bool TryRead(out byte value) => _bytes.TryDequeue(out value);

    private void ReadLoop()
    {
        var buffer = new byte[256];
        try
        {
            int n;
            while ((n = _stream.Read(buffer)) > 0)
            {
                for (int i = 0; i < n; i++) _bytes.Enqueue(buffer[i]);
                Arrived?.Invoke();
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        _completed = true;
        Arrived?.Invoke();
    }

    public void Dispose() { }
}
