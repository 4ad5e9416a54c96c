using VmReplay.Engine.Run;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// A run of exits encoded alike (a polling loop: the same access, the same RIP and
/// instruction-count deltas) is one exit and one repeat event (kind 10, trace format 6): read
/// back, every repetition is an exit of its own with its own RIP and instruction count.
/// </summary>
public sealed class RepeatedExitTests
{
    // A poll of the UART's line status every 3 instructions from a loop at one RIP.
    private static ExitEvent Poll(long instructions, ulong rip = 0x7c07) =>
        new(2, rip, 0x3fd, 1, 0, 1, [0x60]) { Instructions = instructions };

    // Polls, a varied stretch (a clock reading, polls at another pace, a write) and polls again.
    private static List<TraceEvent> PollingRun()
    {
        var events = new List<TraceEvent>();
        for (int i = 0; i < 500; i++) events.Add(Poll(100 + 3L * i));
        events.Add(new ClockEvent(1_000));
        for (int i = 0; i < 40; i++) events.Add(Poll(5_000 + 7L * i));
        events.Add(new ExitEvent(2, 0x7c20, 0x3f8, 1, ExitEvent.FlagWrite, 1, [0x41]) { Instructions = 6_000 });
        events.Add(new ExitEvent(2, 0x7c20, 0x3f8, 1, ExitEvent.FlagWrite, 1, [0x42]) { Instructions = 6_003 });
        for (int i = 0; i < 300; i++) events.Add(Poll(7_000 + 3L * i));
        events.Add(new ScheduledServiceEvent(8_000));
        events.Add(Poll(8_001));
        return events;
    }

    [Fact]
    public void ARunOfExitsEncodedAlikeIsOneExitAndOneRepeatAndReadsBackExitByExit()
    {
        var events = PollingRun();
        var bytes = EventCodec.Encode(events);
        var decoded = EventCodec.Decode(bytes);
        Assert.Equal(events.Count, decoded.Count);
        for (int i = 0; i < events.Count; i++)
            Assert.True(events[i] is ExitEvent x ? decoded[i] is ExitEvent y && x.Matches(y) && y.Instructions == x.Instructions : events[i].Equals(decoded[i]),
                $"event {i}: {events[i].Describe()} read as {decoded[i].Describe()}");
        Assert.Equal(events.Count, EventCodec.Count(bytes));

        // Written out one by one, as version 5 did, the same events take 845 exits' bytes; here
        // each run is its first exit (its deltas from the event before), the second, a repeat.
        var v5 = EventCodec.Encode(events, version: 5);
        Assert.DoesNotContain(EventCodec.KRepeat, v5);
        Assert.Equal(events.Count, EventCodec.Decode(v5).Count);
        Assert.Equal(3, bytes.Count(b => b == EventCodec.KRepeat));
        Assert.True(bytes.Length * 50 < v5.Length, $"{bytes.Length} bytes, {v5.Length} written out");
    }

    [Fact]
    public void AnExitThatDiffersInAnythingItsBytesHoldEndsTheRun()
    {
        // The first poll's deltas are from the batch's start: the second is the first repetition.
        TraceEvent[] events =
        [
            Poll(10), Poll(13), Poll(16),
            Poll(19, rip: 0x7c09),           // another RIP
            Poll(22, rip: 0x7c09) with { Data = [0x61] }, // another value read
            Poll(25, rip: 0x7c09) with { Data = [0x61] },
            Poll(28, rip: 0x7c09) with { Data = [0x61] },
        ];
        var bytes = EventCodec.Encode(events);
        Assert.Equal(2, bytes.Count(b => b == EventCodec.KRepeat));
        var decoded = EventCodec.Decode(bytes).Cast<ExitEvent>().ToList();
        Assert.Equal(events.Cast<ExitEvent>().Select(e => (e.Rip, e.Instructions, e.Data[0])), decoded.Select(e => (e.Rip, e.Instructions, e.Data[0])));
    }

    [Fact]
    public void AReaderResumedFromAnyPlaceReadsTheRestAsFromTheStart()
    {
        var events = PollingRun();
        var bytes = EventCodec.Encode(events);
        var places = new List<EventReader.Place>();
        var all = new List<string>();
        var r = new EventReader(bytes);
        while (!r.AtEnd)
        {
            places.Add(r.At);
            all.Add((r.Next(out var x) ?? x.ToEvent()).Describe());
        }
        Assert.Equal(events.Count, all.Count);
        foreach (int i in new[] { 0, 1, 2, 250, 499, 500, 501, 502, 540, 541, 542, 543, 544, 700, events.Count - 2, events.Count - 1 })
        {
            var resumed = new EventReader(bytes, places[i]);
            var rest = new List<string>();
            while (!resumed.AtEnd) rest.Add((resumed.Next(out var x) ?? x.ToEvent()).Describe());
            Assert.Equal(all.Skip(i), rest);
        }
    }

    [Fact]
    public void EveryExitMatchesItsOwnEncodingAtItsPlaceAndTheMatchEndsWhereReadingItDoes()
    {
        // How a replay checks an exit: the recorded exit's bytes, wherever a repeat keeps them.
        var events = PollingRun();
        var bytes = EventCodec.Encode(events);
        var r = new EventReader(bytes);
        int exits = 0;
        while (!r.AtEnd)
        {
            var at = r.At;
            bool isExit = EventReader.IsExitAt(bytes, at);
            var other = r.Next(out var x);
            Assert.Equal(other is null, isExit);
            if (other is not null) continue;
            exits++;
            var encoded = Encoded(x, at);
            Assert.True(EventReader.MatchesExitAt(bytes, at, encoded, out var after), $"exit {exits} at byte {at.Position}");
            Assert.Equal(r.At, after with { PrevRip = x.Rip, PrevScheduled = x.Instructions!.Value });
            // One instruction later is another exit: not this one, and the place is kept.
            var later = Encoded(new ExitFields(x.Reason, x.Rip, x.Address, x.Size, x.Flags, x.Count, x.Data, x.Instructions + 1), at);
            Assert.False(EventReader.MatchesExitAt(bytes, at, later, out var kept));
            Assert.Equal(at, kept);
        }
        Assert.Equal(events.Count(e => e is ExitEvent), exits);
    }

    private static unsafe byte[] Encoded(in ExitFields x, EventReader.Place at)
    {
        var buffer = new byte[EventCodec.MaxExitSize(x.Data.Length)];
        fixed (byte* p = buffer)
            return buffer[..EventCodec.WriteExit(p, x, at.PrevRip, at.PrevScheduled)];
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TheRecordersShortcutForARepeatedPortExitEncodesExactlyAsTheExitWould(int seed)
    {
        // How a recording appends a port exit of one element (ExitFingerprint.AppendTo): counted
        // as a repetition by four compares when it is one, else appended whole. Runs of polls at
        // a steady pace are broken by every way an exit can differ (RIP, pace, port, size,
        // direction, value, counted or not) and by other events; the bytes and counts must be
        // those of appending every event whole.
        var random = new Random(seed);
        var events = new List<TraceEvent>();
        ulong rip = 0x7c00;
        long instructions = 100;
        while (events.Count < 5_000)
        {
            ushort port = random.Next(4) switch { 0 => 0x3fd, 1 => 0x80, 2 => 0x61, _ => (ushort)random.Next(0x10000) };
            int size = new[] { 1, 1, 2, 4 }[random.Next(4)];
            byte flags = random.Next(3) == 0 ? ExitEvent.FlagWrite : (byte)0;
            var data = new byte[size];
            random.NextBytes(data);
            ulong ripStep = (ulong)random.Next(3);
            long pace = random.Next(1, 4);
            bool counted = random.Next(8) != 0;
            for (int n = random.Next(1, 40); n > 0; n--)
            {
                rip += ripStep;
                instructions += pace;
                events.Add(new ExitEvent((uint)ExitReason.Io, rip, port, (byte)size, flags, 1, data.ToArray()) { Instructions = counted ? instructions : null });
            }
            switch (random.Next(6))
            {
                case 0: events.Add(new ClockEvent(instructions * 10)); break;
                case 1: events.Add(new ScheduledServiceEvent(instructions)); break;
                case 2: events.Add(new ExitEvent((uint)ExitReason.Mmio, rip, 0xfee00000, 4, 0, 1, [1, 2, 3, 4]) { Instructions = instructions }); break;
                case 3: events.Add(new ExitEvent((uint)ExitReason.Io, rip, 0x3f8, 1, ExitEvent.FlagWrite, 3, [1, 2, 3]) { Instructions = instructions }); break;
            }
        }
        using var whole = new EventBatch();
        using var shortcut = new EventBatch();
        // As a recording's run loop takes them: the repetitions counted only when another
        // event comes (several at once, as the run loop leaves them).
        var predicted = new PredictedPortExits();
        int repetitions = 0;
        foreach (var e in events)
        {
            whole.Add(e);
            if (e is ExitEvent x && x.Reason == (uint)ExitReason.Io && x.Count == 1 && x.Data.Length == x.Size
                && predicted.TryTake(x.Rip, x.Instructions ?? 0, PortExitPrediction.KeyOf((ushort)x.Address, x.Size, x.Flags == ExitEvent.FlagWrite, x.Instructions.HasValue), PortExitPrediction.Pack(x.Data)))
                repetitions++;
            else
            {
                if (predicted.Settle() is > 0 and int taken) shortcut.AddRepetitions(taken, predicted.Next);
                shortcut.Add(e);
                if (shortcut.TryPredict(out var next)) predicted.Arm(next, int.MaxValue);
                else predicted.Disarm();
            }
            Assert.Equal(whole.Count, shortcut.Count + predicted.Pending);
        }
        if (predicted.Settle() is > 0 and int rest) shortcut.AddRepetitions(rest, predicted.Next);
        Assert.Equal(whole.Bytes.ToArray(), shortcut.Bytes.ToArray());
        Assert.InRange(repetitions, events.Count / 2, events.Count);
        Assert.Equal(events.Count, EventCodec.Decode(shortcut.Bytes.ToArray()).Count);
    }

    [Theory]
    [InlineData(new byte[] { 10, 1 }, "repeat at byte 0 does not follow an exit")]
    [InlineData(new byte[] { 2, 4, 10, 1 }, "repeat at byte 2 does not follow an exit")]
    [InlineData(new byte[] { 4, 10, 1 }, "repeat at byte 1 does not follow an exit")]
    public void ARepeatThatFollowsNoExitIsRefusedNamingTheByte(byte[] batch, string message)
    {
        Assert.Equal(message, Assert.Throws<FormatException>(() => EventCodec.Decode(batch)).Message);
        Assert.Equal(message, Assert.Throws<FormatException>(() => EventCodec.Count(batch)).Message);
    }

    [Fact]
    public void ARepetitionWhoseInstructionCountGoesNegativeIsRefusedWhetherCountedOrRead()
    {
        // 10, 5, then the same delta again: 0, then -5. Counting skips the repetitions without
        // decoding each, yet refuses the batch as reading it does (a replay counts batches
        // before its cursor reads them, and must not meet a malformed event mid-run).
        var bytes = EventCodec.Encode([Poll(10), Poll(5), Poll(0), Poll(-5)]);
        Assert.Equal(1, bytes.Count(b => b == EventCodec.KRepeat));
        string read = Assert.Throws<FormatException>(() => EventCodec.Decode(bytes)).Message;
        Assert.Matches(@"^exit at byte \d+ has a negative instruction count$", read);
        Assert.Equal(read, Assert.Throws<FormatException>(() => EventCodec.Count(bytes)).Message);
        // And a reader that skips the repetitions stands where one that reads them does.
        var ok = EventCodec.Encode([Poll(10), Poll(13), Poll(16), Poll(19), Poll(20, rip: 0x7c0a)]);
        var skipping = new EventReader(ok);
        var reading = new EventReader(ok);
        // Exits at 10 and 13, a repeat of two (16, 19): the repeat's first read leaves one.
        for (int i = 0; i < 4; i++) reading.Next(out _);
        for (int i = 0; i < 3; i++) skipping.Next(out _);
        Assert.Equal(1, skipping.SkipRepeats());
        Assert.Equal(reading.At, skipping.At);
        skipping.Next(out var last);
        Assert.Equal((0x7c0aUL, (long?)20), (last.Rip, last.Instructions));
    }

    [Fact]
    public void SkippingRepetitionsAtOnceEndsWhereReadingEachDoesOrRefusesWhereItDoes()
    {
        // Counting a batch applies a repeat's n - 1 steps in one go: at any start, step and
        // count, including steps that carry the instruction count past long.MaxValue (it wraps
        // to a negative, which reading that repetition refuses) or below 0, and RIPs that wrap,
        // it must stand where reading each repetition stands, or refuse with the same message.
        var random = new Random(1207);
        long[] starts = [0, 1, 100, long.MaxValue / 2, long.MaxValue - 1_000, long.MaxValue - 3];
        long[] steps = [0, 1, 3, -1, -7, 1_000_000_007, long.MaxValue / 3, -(long.MaxValue / 5), long.MaxValue, long.MinValue + 1];
        for (int round = 0; round < 400; round++)
        {
            long start = random.Next(3) == 0 ? random.NextInt64() : starts[random.Next(starts.Length)];
            long step = random.Next(3) == 0 ? random.NextInt64(long.MinValue, long.MaxValue) : steps[random.Next(steps.Length)];
            ulong ripStep = random.Next(2) == 0 ? 0 : (ulong)random.NextInt64() * 2;
            int n = random.Next(2, 300);
            var events = new List<TraceEvent>();
            long count = start;
            ulong rip = 0x7c07;
            for (int i = 0; i < n; i++, count = unchecked(count + step), rip = unchecked(rip + ripStep)) events.Add(Poll(count, rip));
            events.Add(Poll(unchecked(count + 12_345), 0x7c0a));
            var bytes = EventCodec.Encode(events);
            string? read = null, counted = null;
            try { EventCodec.Decode(bytes); } catch (FormatException e) { read = e.Message; }
            try { Assert.Equal(n + 1, EventCodec.Count(bytes)); } catch (FormatException e) { counted = e.Message; }
            Assert.Equal(read, counted);
            if (read is not null) continue;
            // A reader that skips stands where one that reads each does, and reads the same next.
            var skipping = new EventReader(bytes);
            var reading = new EventReader(bytes);
            int skipped = 0;
            while (!skipping.AtEnd)
            {
                skipping.Next(out var a);
                reading.Next(out var b);
                Assert.Equal((b.Rip, b.Instructions), (a.Rip, a.Instructions));
                if ((skipped = skipping.SkipRepeats()) > 0)
                    for (int i = 0; i < skipped; i++) reading.Next(out _);
                Assert.Equal(reading.At, skipping.At);
            }
            Assert.True(reading.AtEnd);
        }
    }

    [Fact]
    public void ARepeatCountOutsideABatchIsRefused()
    {
        var exit = EventCodec.Encode([Poll(1)]);
        byte[] none = [.. exit, 10, 0];
        byte[] tooMany = [.. exit, 10, 0x81, 0x80, 0x01]; // 16,385
        Assert.Equal($"repeat at byte {exit.Length} repeats its exit 0 times (1 to 16384)", Assert.Throws<FormatException>(() => EventCodec.Count(none)).Message);
        Assert.Equal($"repeat at byte {exit.Length} repeats its exit 16385 times (1 to 16384)", Assert.Throws<FormatException>(() => EventCodec.Decode(tooMany)).Message);
        // The exit and 16,383 repetitions fill a batch; one more event is one too many.
        byte[] full = [.. exit, 10, 0xFF, 0x7F];
        Assert.Equal(16384, EventCodec.Count(full));
        var e = Assert.Throws<FormatException>(() => EventCodec.Count([.. full, 4]));
        Assert.Equal($"the batch holds more than 16384 events (event 16384 at byte {full.Length})", e.Message);
    }

    [Fact]
    public void ABatchOfMoreEventsThanItsPayloadMayHoldIsRefused()
    {
        var exit = EventCodec.Encode([Poll(1)]);
        byte[] batch = [.. exit, 10, 0xFF, 0x7F];
        Assert.Equal(16384, EventCodec.Count(batch));
        int max = TraceFormat.MaxEventsIn(20);
        Assert.Equal(160, max);
        var e = Assert.Throws<FormatException>(() => EventCodec.Count(batch, max));
        string message = $"the batch holds more than 160 events, the most its payload may hold (8 per byte; event 160 at byte {exit.Length})";
        Assert.Equal(message, e.Message);
        // Decoded repetition by repetition, it is refused at the same event.
        Assert.Equal(message, Assert.Throws<FormatException>(() => EventCodec.Decode(batch, [], max)).Message);
    }
}
