using System.Text;
using System.Text.Json;

namespace VmReplay.Recorder.Faults;

/// <summary>
/// The VMM itself failed while recording: the exception, and the managed stacks of every VMM
/// thread at that moment. Stored as UTF-8 JSON in a FALT chunk; <c>vmreplay info</c> shows it.
/// </summary>
public sealed record VmmFault(string ExceptionType, string Message, string StackTrace, IReadOnlyList<VmmThreadStack> Threads, string? CaptureError)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Throws <see cref="JsonException"/> when <paramref name="json"/> is not a fault record.</summary>
    public static VmmFault FromJson(ReadOnlySpan<byte> json)
    {
        var f = JsonSerializer.Deserialize<VmmFault>(json, Json) ?? throw new JsonException("empty fault record");
        if (f.ExceptionType is null || f.Message is null || f.Threads is null) throw new JsonException("the fault record lacks its exception or threads");
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
            foreach (var f in t.Frames) b.AppendLine($"    {f}");
        }
        return b.ToString();
    }
}

/// <summary>One managed thread's stack, innermost frame first.</summary>
public sealed record VmmThreadStack(int ManagedThreadId, uint OsThreadId, string? Name, IReadOnlyList<string> Frames);
