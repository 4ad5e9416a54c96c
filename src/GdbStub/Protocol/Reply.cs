using System.Globalization;
using System.Text;

namespace VmReplay.GdbStub.Protocol;

/// <summary>
/// Reply payloads, unframed: <see cref="PacketEncoder"/> adds '$', escaping and the checksum.
/// </summary>
public static class Reply
{
    public const string Ok = "OK";

    /// <summary>The empty reply: "this stub does not support that packet".</summary>
    public const string Empty = "";

    public static string Error(int code)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(code);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 0xff);
        return "E" + code.ToString("x2", CultureInfo.InvariantCulture);
    }

    /// <summary>The textual error form "E.text"; gdb shows the text to the user.</summary>
    public static string ErrorMessage(string text) => "E." + text;

    /// <summary>Console output for gdb to print, e.g. while a monitor command runs.</summary>
    public static string Output(string consoleText) => "O" + Hex.Encode(Encoding.UTF8.GetBytes(consoleText));

    /// <summary>
    /// "T{signal}thread:{tid};" plus the cause. gdb only understands swbreak/hwbreak if it sent
    /// swbreak+/hwbreak+ in qSupported, and replaylog only means something to a reverse-capable
    /// gdb; choosing the cause to report is the caller's business.
    /// </summary>
    public static string StopReply(StopReplyInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        CheckSignal(info.Signal);
        ArgumentOutOfRangeException.ThrowIfLessThan(info.Thread, 1L, nameof(info.Thread));
        var reply = new StringBuilder();
        reply.Append(CultureInfo.InvariantCulture, $"T{info.Signal:x2}thread:{info.Thread:x};");
        reply.Append(info.Cause switch
        {
            StopCause.None => "",
            StopCause.SoftwareBreak => "swbreak:;",
            StopCause.HardwareBreak => "hwbreak:;",
            StopCause.Watch => string.Create(CultureInfo.InvariantCulture, $"watch:{info.WatchAddress:x};"),
            StopCause.ReadWatch => string.Create(CultureInfo.InvariantCulture, $"rwatch:{info.WatchAddress:x};"),
            StopCause.AccessWatch => string.Create(CultureInfo.InvariantCulture, $"awatch:{info.WatchAddress:x};"),
            StopCause.ReplayBegin => "replaylog:begin;",
            StopCause.ReplayEnd => "replaylog:end;",
            _ => throw new ArgumentOutOfRangeException(nameof(info), info.Cause, "unknown stop cause"),
        });
        return reply.ToString();
    }

    /// <summary>"W{code}": the target exited with this status.</summary>
    public static string Exited(int code)
    {
        CheckSignal(code);
        return "W" + code.ToString("x2", CultureInfo.InvariantCulture);
    }

    /// <summary>"X{signal}": the target was terminated by this signal.</summary>
    public static string Terminated(int signal)
    {
        CheckSignal(signal);
        return "X" + signal.ToString("x2", CultureInfo.InvariantCulture);
    }

    /// <summary>The qSupported answer: "PacketSize=hex;feature;...". PacketSize is the largest packet we accept.</summary>
    public static string Supported(int packetSize, IEnumerable<string> features)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(packetSize, 1);
        ArgumentNullException.ThrowIfNull(features);
        var reply = new StringBuilder("PacketSize=").Append(packetSize.ToString("x", CultureInfo.InvariantCulture));
        foreach (var feature in features)
            reply.Append(';').Append(feature);
        return reply.ToString();
    }

    /// <summary>
    /// One qXfer read answer: "m" + data when more follows, "l" + data when this reaches the end
    /// (an offset at or past the end gives a bare "l"). A request for 0 bytes short of the end is
    /// malformed ("E00"): "m" must carry at least one byte, or a client asking again from the same
    /// offset would loop, and "l" would end the document early. The data is returned raw, one char per byte
    /// (Latin-1); encode it with <see cref="System.Text.Encoding.Latin1"/> and let
    /// <see cref="PacketEncoder"/> escape it. Escaping can make the packet longer than
    /// <paramref name="length"/>; gdb grows its buffer to fit.
    /// </summary>
    public static string XferChunk(ReadOnlySpan<byte> document, ulong offset, ulong length)
    {
        if (offset >= (ulong)document.Length)
            return "l";
        if (length == 0)
            return Error(0x00);
        var remaining = (ulong)document.Length - offset;
        var take = (int)Math.Min(length, remaining);
        var chunk = document.Slice((int)offset, take);
        var marker = (ulong)take == remaining ? 'l' : 'm';
        return marker + Encoding.Latin1.GetString(chunk);
    }

    private static void CheckSignal(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 0xff);
    }
}
