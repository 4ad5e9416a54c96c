using System.Runtime.CompilerServices;
using System.Text;

namespace VmReplay.Recorder.Events;

/// <summary>
/// Encodes a batch of events compactly: a kind byte, then LEB128 varints, with the clock and
/// exit RIPs as zigzag deltas from the previous value in the batch (each batch decodes alone).
/// The result is compressed by the writer. <see cref="EventBatch"/> writes the bytes and
/// <see cref="EventReader"/> reads them.
/// </summary>
public static class EventCodec
{
    /// <summary>Event kinds (traces/FORMAT.md, "Events"), the first byte of each event.</summary>
    public const byte KExit = 1, KClock = 2, KInput = 3, KService = 4, KForced = 5, KEnd = 6, KForcedWithPageList = 7, KScheduled = 8, KExitCounted = 9, KRepeat = 10;

    /// <summary>
    /// Encodes <paramref name="events"/> as one batch, as trace format <paramref name="version"/>
    /// holds it: before version 6 every exit is written out, never repeated.
    /// </summary>
    public static byte[] Encode(IReadOnlyList<TraceEvent> events, uint version = Format.TraceFormat.Version)
    {
        using var batch = new EventBatch { RepeatsExits = version >= Format.TraceFormat.FirstVersionRepeatingExits };
        foreach (var e in events) batch.Add(e);
        return batch.Bytes.ToArray();
    }

    /// <summary>
    /// Decodes a batch of at most <see cref="Format.TraceFormat.MaxEventsPerBatch"/> events;
    /// throws <see cref="FormatException"/> naming the byte offset of a malformed event.
    /// </summary>
    public static List<TraceEvent> Decode(ReadOnlySpan<byte> data)
    {
        var list = new List<TraceEvent>();
        Decode(data, list);
        return list;
    }

    /// <summary>
    /// As <see cref="Decode(ReadOnlySpan{byte})"/>, appending the events to <paramref name="list"/>
    /// and refusing a batch of more than <paramref name="maxEvents"/>; when it throws, the events
    /// of this batch appended so far stay in the list.
    /// </summary>
    public static void Decode(ReadOnlySpan<byte> data, List<TraceEvent> list, int maxEvents = Format.TraceFormat.MaxEventsPerBatch) => Read(data, list, maxEvents);

    /// <summary>
    /// The number of events in a batch, checked as <see cref="Decode(ReadOnlySpan{byte}, List{TraceEvent}, int)"/>
    /// checks it (same exceptions), without an object for each exit or a decoding of each
    /// repetition of a repeated one.
    /// </summary>
    public static int Count(ReadOnlySpan<byte> data, int maxEvents = Format.TraceFormat.MaxEventsPerBatch) => Read(data, null, maxEvents);

    // Reads every event of a batch, into `list` when there is one; returns how many.
    private static int Read(ReadOnlySpan<byte> data, List<TraceEvent>? list, int maxEvents)
    {
        var r = new EventReader(data);
        int count = 0;
        // The byte of the event read last, a repetition's being its repeat's.
        int at = 0;
        while (!r.AtEnd)
        {
            if (!r.Repeating) at = r.Position;
            var other = r.Next(out var exit);
            list?.Add(other ?? exit.ToEvent());
            count++;
            if (list is null) count += r.SkipRepeats();
            if (count > maxEvents) throw TooMany(maxEvents, at);
        }
        return count;
    }

    // Event `maxEvents` (counted from 0) is the first too many, at byte `at`.
    private static FormatException TooMany(int maxEvents, int at) =>
        new(maxEvents == Format.TraceFormat.MaxEventsPerBatch
            ? $"the batch holds more than {maxEvents} events (event {maxEvents} at byte {at})"
            : $"the batch holds more than {maxEvents} events, the most its payload may hold ({Format.TraceFormat.MaxEventsPerPayloadByte} per byte; event {maxEvents} at byte {at})");

    /// <summary>
    /// The most bytes <paramref name="e"/> can take encoded (varints at their longest), so that a
    /// writer can close a batch before it outgrows <see cref="Format.TraceFormat.MaxBatchBytes"/>.
    /// </summary>
    public static int MaxEncodedSize(TraceEvent e) => e switch
    {
        ExitEvent x => MaxExitSize(x.Data.Length),
        EndEvent end => 1 + 3 * MaxVarint + Encoding.UTF8.GetMaxByteCount(end.Message.Length) + 16,
        ForcedServiceEvent => 1 + (1 + ForcedServiceEvent.RegisterCount) * MaxVarint + 16,
        _ => 1 + MaxVarint,
    };

    // Writes an exit as a batch holds it, its RIP and instruction count as deltas from prevRip
    // and prevScheduled, into at least MaxExitSize bytes; returns the bytes written. A recording
    // appends exits with it, and a replay compares an exit with the recorded one as these bytes.
    // Written through a local pointer, every varint inlined: a recording appends an exit every
    // few instructions of an exit-heavy guest, and field loads and calls per byte made this a
    // tenth of the vCPU thread's time.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe int WriteExit(byte* start, in ExitFields x, ulong prevRip, long prevScheduled)
    {
        byte* p = start;
        *p++ = x.Instructions is null ? KExit : KExitCounted;
        Var(ref p, x.Reason);
        Var(ref p, ZigZag((long)(x.Rip - prevRip)));
        Var(ref p, x.Address);
        *p++ = x.Size;
        *p++ = x.Flags;
        Var(ref p, x.Count);
        Var(ref p, (ulong)x.Data.Length);
        // Most exits move one to eight bytes (a port, an MSR): a loop beats a call to memmove.
        if (x.Data.Length <= 8)
            foreach (byte d in x.Data) *p++ = d;
        else
        {
            x.Data.CopyTo(new Span<byte>(p, x.Data.Length));
            p += x.Data.Length;
        }
        if (x.Instructions is { } retired) Var(ref p, ZigZag(retired - prevScheduled));
        return (int)(p - start);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void Var(ref byte* p, ulong v)
    {
        while (v >= 0x80)
        {
            *p++ = (byte)(v | 0x80);
            v >>= 7;
        }
        *p++ = (byte)v;
    }

    /// <summary>Writes a repeat of the exit before it, <paramref name="times"/> more times; returns the bytes written (at most <see cref="MaxRepeatSize"/>).</summary>
    internal static unsafe int WriteRepeat(byte* start, int times)
    {
        byte* p = start;
        *p++ = KRepeat;
        Var(ref p, (ulong)times);
        return (int)(p - start);
    }

    /// <summary>The most bytes a repeat takes encoded: its count is at most a batch's events.</summary>
    internal const int MaxRepeatSize = 1 + 3;

    /// <summary>The most bytes an exit that moved <paramref name="dataLength"/> bytes can take encoded.</summary>
    public static int MaxExitSize(int dataLength) => 1 + 6 * MaxVarint + 2 + dataLength;

    private const int MaxVarint = 10;

    internal static ulong ZigZag(long v) => (ulong)((v << 1) ^ (v >> 63));

    internal static long UnZigZag(ulong v) => (long)(v >> 1) ^ -(long)(v & 1);
}
