using System.Text;
using System.Text.Json;

namespace VmReplay.Recorder.Faults;

/// <summary>
/// The VMM itself failed while recording: the exception, and the managed stacks of every VMM
/// thread at that moment. Stored as UTF-8 JSON in a FALT chunk; <c>vmreplay info</c> shows it.
/// </summary>
/// <param name="StackTrace">The exception's full text, inner exceptions included.</param>
/// <param name="CaptureError">Why <paramref name="Threads"/> is empty, when the stacks could not be read.</param>
public sealed record VmmFault(string ExceptionType, string Message, string StackTrace, IReadOnlyList<VmmThreadStack> Threads, string? CaptureError)
{
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, VmmFaultJsonContext.Default.VmmFault);

    /// <summary>Throws <see cref="JsonException"/>, and nothing else, when <paramref name="json"/> is not a fault record.</summary>
    public static VmmFault FromJson(ReadOnlySpan<byte> json)
    {
        var f = JsonSerializer.Deserialize(json, VmmFaultJsonContext.Default.VmmFault) ?? throw new JsonException("the fault record is null");
        // The serializer leaves absent or null members null whatever their declared nullability,
        // and Describe and its callers rely on the declared nullability.
        if (f.ExceptionType is null || f.Message is null || f.StackTrace is null || f.Threads is null)
            throw new JsonException("the fault record lacks its exception or threads");
        if (f.Threads.Any(t => t is null || t.Frames is null || t.Frames.Any(frame => frame is null)))
            throw new JsonException("the fault record has a thread without a stack");
        return f;
    }

    public string Describe()
    {
        var b = new StringBuilder();
        b.AppendLine($"{ExceptionType}: {Message}");
        foreach (var line in StackTrace.Split('\n', StringSplitOptions.RemoveEmptyEntries)) b.AppendLine($"  {line.TrimEnd()}");
        if (CaptureError is not null) b.AppendLine($"thread stacks not captured: {CaptureError}");
        foreach (var t in Threads)
        {
            b.AppendLine($"thread {t.ManagedThreadId} ({t.Name ?? "unnamed"}, OS tid {t.OsThreadId}):");
            foreach (var frame in t.Frames) b.AppendLine($"    {frame}");
        }
        return b.ToString();
    }
}

/// <summary>One managed thread's stack, innermost frame first.</summary>
/// <param name="Name">
/// The managed <see cref="Thread.Name"/>; failing that (a large VMM's dump holds no heap, see
/// <see cref="VmmFaultCapture"/>), the OS thread name, which Linux cuts to 15 bytes.
/// </param>
public sealed record VmmThreadStack(int ManagedThreadId, uint OsThreadId, string? Name, IReadOnlyList<string> Frames);
