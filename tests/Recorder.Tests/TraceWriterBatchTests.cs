using VmReplay.Recorder.Events;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// A batch of events that compresses better than a reader accepts (a guest polling one port) is
/// written in parts a reader takes, every event kept in order and numbered as it was appended.
/// </summary>
public sealed class TraceWriterBatchTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-batch-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void RepetitiveEventsAfterVariedOnesReadBackInOrder()
    {
        var random = new Random(7);
        var appended = new List<TraceEvent>();
        // Varied exits first, so the batch turns repetitive part-way; then a poll of one port.
        for (int i = 0; i < 3000; i++)
            appended.Add(new ExitEvent(2, (ulong)random.NextInt64(0x1000, 0x100000), (ulong)random.Next(0x10000), 1, 0, 1, [(byte)random.Next(256)]) { Instructions = 10L * i + random.Next(10) });
        // Other kinds among the polls: a part that starts between two of them must carry the
        // instruction count and the clock from the batch's start, not from its own.
        for (int i = 0; i < 40_000; i++)
        {
            appended.Add(new ExitEvent(2, 0x100040, 0x3FD, 1, 0, 1, [0x60]) { Instructions = 30_000 + 5L * i });
            if (i % 97 == 0) appended.Add(new ScheduledServiceEvent(30_001 + 5L * i));
            if (i % 501 == 0) appended.Add(new ClockEvent(1_000_000_000L + 1000L * i));
            if (i % 1999 == 0) appended.Add(new InputEvent(i % 256));
        }
        appended.Add(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0));

        string path = Path.Combine(_dir, "poll.vmtrace");
        using (var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 }))
        {
            // Exits both as events and as values, the way a recording appends them.
            int n = 0;
            foreach (var e in appended.Take(appended.Count - 1))
            {
                if (e is ExitEvent x && n++ % 2 == 0) writer.AppendExit(ExitFields.Of(x));
                else writer.Append(e);
            }
            Assert.Null(writer.Finish((EndEvent)appended[^1], endsInLongMode: false));
        }

        using var reader = TraceReader.Open(path);
        var read = reader.Events().ToList();
        Assert.Equal(appended.Count, read.Count);
        for (int i = 0; i < read.Count; i++)
            Assert.True(Same(appended[i], read[i]), $"event {i}: appended {appended[i].Describe()}, read {read[i].Describe()}");
        // Each part is positioned by its first event: seeking into the repetitive stretch finds it.
        Assert.True(Same(appended[20_000], reader.Events(20_000).First()));
    }

    [Fact]
    public void ATraceWrittenOverALongerFileKeepsNoneOfIt()
    {
        // The writer thread, not the constructor, cuts off what the path held before.
        string path = Path.Combine(_dir, "again.vmtrace");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0xA5, 1 << 20).ToArray());
        long written;
        using (var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 }))
        {
            writer.Append(new ExitEvent(2, 0x1000, 0x3F8, 1, ExitEvent.FlagWrite, 1, [0x41]));
            Assert.Null(writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false));
            written = writer.BytesWritten;
        }
        Assert.Equal(written, new FileInfo(path).Length);
        Assert.True(written < 1 << 20);
        using var reader = TraceReader.Open(path);
        Assert.True(reader.File.IsComplete);
        Assert.Equal(2, reader.Events().Count());
    }

    [Fact]
    public void ABatchThatCompressesBetterThan8To1IsOneChunkPaddedToAnEighthOfWhatItDecodesTo()
    {
        // A reader takes at most 8 decoded bytes per byte of payload: a poll of one port that
        // reads two values in turn compresses far better, so the writer pads each such batch
        // rather than cutting it into parts.
        var random = new Random(11);
        var appended = new List<TraceEvent>();
        // Two values read in turn: no exit repeats the one before, yet the batch compresses far
        // better than 8:1.
        for (int i = 0; i < 40_000; i++)
            appended.Add(new ExitEvent(2, 0x100040, 0x3FD, 1, 0, 1, [(byte)(0x60 + i % 2)]) { Instructions = 5L * i });
        for (int i = 0; i < 120_000; i++)
            appended.Add(new ExitEvent(2, (ulong)random.NextInt64(0x1000, 0x100000), (ulong)random.Next(0x10000), 1, 0, 1, [(byte)random.Next(256)]) { Instructions = 200_000 + 10L * i });
        string path = Path.Combine(_dir, "poll-then-varied.vmtrace");
        using (var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 }))
        {
            foreach (var e in appended) writer.Append(e);
            Assert.Null(writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false));
        }

        using var reader = TraceReader.Open(path);
        const int batch = Format.TraceFormat.MaxEventsPerBatch;
        Assert.Equal(Enumerable.Range(0, (appended.Count + 1 + batch - 1) / batch).Select(b => (ulong)(b * batch)), reader.EventChunks.Select(c => c.FirstEvent));
        // The poll's batches: padded to exactly what the limit asks of what they decode to.
        var poll = reader.EventChunks[1];
        long decoded = Format.ZstdFrame.Decompress(reader.File.ReadPayload(poll), Format.TraceFormat.MaxBatchBytes, Format.TraceFormat.MaxBatchExpansion).Length;
        Assert.Equal((decoded + Format.TraceFormat.MaxBatchExpansion - 1) / Format.TraceFormat.MaxBatchExpansion, (long)poll.PayloadLength);
        var read = reader.Events().ToList();
        Assert.Equal(appended.Count + 1, read.Count);
        for (int i = 0; i < appended.Count; i++)
            Assert.True(Same(appended[i], read[i]), $"event {i}: appended {appended[i].Describe()}, read {read[i].Describe()}");
    }

    [Theory]
    [InlineData(false)]
    // As a software CPU's recording appends them: each repetition counted by the batch's
    // prediction (TryAppendRepeatedPortExit), which must end each batch at the same event.
    [InlineData(true)]
    public void ABatchOfOneRepeatedExitIsOneChunkPaddedToTheEventsItHolds(bool predicted)
    {
        // A poll of one port: each batch encodes to a few bytes (an exit, the next, a repeat),
        // and a reader takes at most 8 events per byte of payload, so the writer pads the frame.
        string path = Path.Combine(_dir, "repeated.vmtrace");
        const int exits = 40_000;
        int counted = 0;
        using (var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 }))
        {
            for (int i = 0; i < exits; i++)
            {
                if (predicted && writer.TryAppendRepeatedPortExit(0x100040, 5L * i, Engine.Run.PortExitPrediction.KeyOf(0x3FD, 1, write: false, counted: true), 0x60))
                {
                    counted++;
                    Assert.Equal(i + 1, writer.EventCount);
                    continue;
                }
                writer.AppendExit(ExitFields.Of(new ExitEvent(2, 0x100040, 0x3FD, 1, 0, 1, [0x60]) { Instructions = 5L * i }));
            }
            Assert.Null(writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false));
        }
        using var reader = TraceReader.Open(path);
        const int batch = Format.TraceFormat.MaxEventsPerBatch;
        Assert.Equal([0UL, batch, 2 * batch], reader.EventChunks.Select(c => c.FirstEvent));
        Assert.All(reader.EventChunks.Take(2), c => Assert.Equal(batch / Format.TraceFormat.MaxEventsPerPayloadByte, (int)c.PayloadLength));
        var read = reader.Events().ToList();
        Assert.Equal(exits + 1, read.Count);
        Assert.Equal(Enumerable.Range(0, exits).Select(i => (long?)(5L * i)), read.Take(exits).Select(e => ((ExitEvent)e).Instructions));
        // All but the first two exits of each batch (the second sets the deltas a repetition repeats).
        Assert.Equal(predicted ? exits - 6 : 0, counted);
    }

    [Fact]
    public void ARunOfRepeatsAfterAPollOfTwoValuesReadsBackExitByExit()
    {
        // Two values in turn make the batch compress too well, so it is padded; the exact poll
        // after them is a run of repeats inside the same batch.
        string path = Path.Combine(_dir, "split-repeats.vmtrace");
        var appended = new List<ExitEvent>();
        for (int i = 0; i < 3000; i++) appended.Add(new ExitEvent(2, 0x100040, 0x3FD, 1, 0, 1, [(byte)(0x60 + i % 2)]) { Instructions = 5L * i });
        for (int i = 0; i < 13_000; i++) appended.Add(new ExitEvent(2, 0x100050, 0x3FD, 1, 0, 1, [0x61]) { Instructions = 20_000 + 7L * i });
        using (var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 }))
        {
            foreach (var e in appended) writer.AppendExit(ExitFields.Of(e));
            Assert.Null(writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false));
        }
        using var reader = TraceReader.Open(path);
        Assert.Single(reader.EventChunks);
        var read = reader.Events().ToList();
        Assert.Equal(appended.Count + 1, read.Count);
        for (int i = 0; i < appended.Count; i++)
            Assert.True(Same(appended[i], read[i]), $"event {i}: appended {appended[i].Describe()}, read {read[i].Describe()}");
        // A replay's cursor from inside the run, as a seek starts it.
        var cursor = new Replayer.EventCursor(reader.Batches(9000), 9000);
        Assert.True(cursor.PeekExit(out var x));
        Assert.Equal(appended[9000].Instructions, x.Instructions);
    }

    [Fact]
    public void EventsBeforeACorruptChunkAreReadThenItIsReported()
    {
        // The chunk after the one being consumed is decoded ahead on another thread; its damage
        // must still surface only where its events are reached, after every event before it.
        string path = Path.Combine(_dir, "corrupt.vmtrace");
        // Eight chunks, one for each batch of 16,384 events.
        WritePoll(path, 120_000);
        var damaged = DamageEventChunk(path, 5);

        using var reader = TraceReader.Open(path);
        long read = 0;
        var e = Assert.Throws<Format.TraceFormatException>(() => { foreach (var _ in reader.Events()) read++; });
        Assert.Contains($"chunk {damaged.Number} (EVNT) at offset {damaged.Offset} is corrupt", e.Message);
        Assert.Equal((long)damaged.FirstEvent, read);
    }

    [Fact]
    public void AChunkReadAheadIsTakenOnlyByBatchesThatBeginWithIt()
    {
        // A replay starts reading its first chunk of events as it opens the trace; whatever
        // enumeration begins at that chunk takes the read, and every other reads for itself.
        string path = Path.Combine(_dir, "ahead.vmtrace");
        var appended = WritePoll(path, 120_000);
        using var reader = TraceReader.Open(path);
        var third = reader.EventChunks[2];
        reader.ReadBatchesAhead((long)third.FirstEvent + 5);
        Assert.Equal(reader.EventChunks.Select(c => (long)c.FirstEvent), reader.Batches(0).Select(b => b.First));
        var cursor = new Replayer.EventCursor(reader.Batches((long)third.FirstEvent + 7), (long)third.FirstEvent + 7);
        for (long i = (long)third.FirstEvent + 7; i < appended.Count; i++)
        {
            Assert.True(cursor.PeekExit(out var x), $"event {i}");
            Assert.Equal(appended[(int)i].Instructions, x.Instructions);
            Assert.Equal(appended[(int)i].Data, x.Data.ToArray());
            cursor.Advance();
        }
        Assert.IsType<EndEvent>(cursor.Peek());
    }

    [Fact]
    public void ACorruptFirstChunkIsReportedWhereItsEventsAreFirstNeeded()
    {
        // Neither the read ahead nor a cursor made or moved reads the chunk where it fails: the
        // failure surfaces at the first look at an event, naming the chunk, as a read would.
        string path = Path.Combine(_dir, "corrupt-first.vmtrace");
        WritePoll(path, 40_000);
        var damaged = DamageEventChunk(path, 0);

        using var reader = TraceReader.Open(path);
        reader.ReadBatchesAhead(0);
        var cursor = new Replayer.EventCursor(reader.Batches(0));
        cursor.Reset(reader.Batches(0), 0);
        Assert.Equal(0, cursor.Position);
        var e = Assert.Throws<Format.TraceFormatException>(() => cursor.PeekExit(out _));
        Assert.Contains($"chunk {damaged.Number} (EVNT) at offset {damaged.Offset} is corrupt", e.Message);
    }

    // A poll of one port that reads two values in turn, `exits` long, recorded to `path`; the exits appended.
    private static List<ExitEvent> WritePoll(string path, int exits)
    {
        var appended = new List<ExitEvent>(exits);
        for (int i = 0; i < exits; i++) appended.Add(new ExitEvent(2, 0x100040, 0x3FD, 1, 0, 1, [(byte)(0x60 + i % 2)]) { Instructions = 5L * i });
        using var writer = new TraceWriter(path, TestHeaders.For([1]), new byte[] { 1 });
        foreach (var e in appended) writer.Append(e);
        Assert.Null(writer.Finish(new EndEvent(Engine.Run.RunOutcomeKind.PowerOff, 0, "done", 0, 0), endsInLongMode: false));
        return appended;
    }

    // Flips a bit in the middle of event chunk `index`'s payload; the chunk as the intact trace indexed it.
    private static Format.ChunkInfo DamageEventChunk(string path, int index)
    {
        Format.ChunkInfo damaged;
        using (var intact = TraceReader.Open(path))
        {
            Assert.True(intact.EventChunks.Count > index);
            damaged = intact.EventChunks[index];
        }
        var bytes = File.ReadAllBytes(path);
        bytes[damaged.Offset + 8 + damaged.PayloadLength / 2] ^= 0x40;
        File.WriteAllBytes(path, bytes);
        return damaged;
    }

    private static bool Same(TraceEvent a, TraceEvent b) =>
        a is ExitEvent x && b is ExitEvent y
            ? x.Reason == y.Reason && x.Rip == y.Rip && x.Address == y.Address && x.Data.SequenceEqual(y.Data) && x.Instructions == y.Instructions
            : a.Describe() == b.Describe();
}
