using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Integration.Tests;

/// <summary>Record a guest, replay the trace with no host input, and compare.</summary>
public sealed class RecordReplayTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-rr-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Trace(string name) => Path.Combine(_dir, name + ".vmtrace");

    private (Vmreplay.Result Record, Vmreplay.Result Replay) RecordAndReplay(string guest, string file, string? serialIn = null)
    {
        string trace = Trace(guest);
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", trace, "--serial-in", serialIn ?? "/dev/null"]);
        var replay = Vmreplay.Run(["replay", trace]);
        return (record, replay);
    }

    [Theory]
    [InlineData("hello", "hello.elf")]
    [InlineData("longmode", "longmode.elf")]
    [InlineData("hello64", "hello64.elf")]
    [InlineData("bootsector", "bootsector.bin")]
    [InlineData("usermode", "usermode.elf")]
    [InlineData("triplefault", "triplefault.elf")]
    [InlineData("timer64", "timer64.elf")]
    [InlineData("failing-boot", "failing-boot.elf")]
    public void ReplayReproducesSerialOutputAndExitStatus(string guest, string file)
    {
        var (record, replay) = RecordAndReplay(guest, file);
        Assert.Equal(record.Stdout, replay.Stdout);
        Assert.Equal(record.ExitCode, replay.ExitCode);
        Assert.Contains("replay matched", replay.Stderr);
    }

    [Fact]
    public void TimerInterruptsLandingInALoopWithoutExitsReplayTwentyTimesInARow()
    {
        for (int i = 0; i < 20; i++)
        {
            var (record, replay) = RecordAndReplay("timer", "timer.elf");
            Assert.Equal("timer: 100 ticks\n", record.Stdout);
            Assert.True(replay.ExitCode == 1, $"run {i}: {replay.Stderr}");
            Assert.Equal(record.Stdout, replay.Stdout);
            Assert.Matches(@"replay matched \d+ events, \d+ exits and \d+ snapshots \(\d+ breakpoint stops", replay.Stderr);
        }
    }

    [Fact]
    public void RecordedSerialInputIsReplayedWithoutTheInputFile()
    {
        string input = Path.Combine(_dir, "in.txt");
        File.WriteAllText(input, "first\nsecond\nquit\n");
        var (record, replay) = RecordAndReplay("echo", "echo.elf", input);
        File.Delete(input);
        Assert.Equal("echo: first\necho: second\necho: bye\n", record.Stdout);
        Assert.Equal(record.Stdout, replay.Stdout);
        Assert.Equal(1, replay.ExitCode);
    }

    [Fact]
    public void InfoDescribesTheTrace()
    {
        RecordAndReplay("hello", "hello.elf");
        var info = Vmreplay.Run(["info", Trace("hello"), "--json"]);
        Assert.Equal(0, info.ExitCode);
        Assert.Contains("\"complete\": true", info.Stdout);
        Assert.Contains("\"guest\": \"hello.elf\"", info.Stdout);
        Assert.Contains("\"exitStatus\": 1", info.Stdout);
        Assert.Contains("\"msrExits\": \"all\"", info.Stdout);
        Assert.Contains("\"cpuidSeen\": 0", info.Stdout);
        var table = Vmreplay.Run(["info", Trace("hello")]);
        Assert.Matches(@"recorded on (soft|kvm), (virtual|host) clock; CPUID model of \d+", table.Stdout);
    }

    [Fact]
    public void AFlippedRecordedValueStopsReplayAtThatEvent()
    {
        RecordAndReplay("hello", "hello.elf");
        string tampered = Trace("tampered");
        long flippedAt = RewriteFirstOutputByte(Trace("hello"), tampered);
        var replay = Vmreplay.Run(["replay", tampered]);
        Assert.Equal(4, replay.ExitCode);
        Assert.Contains($"replay diverged at event {flippedAt}", replay.Stderr);
        Assert.Contains("instruction at rip:", replay.Stderr);
        Assert.Contains("last events before it:", replay.Stderr);
    }

    [Fact]
    public void ADeviceStateThatDiffersAtASnapshotIsADivergenceNamingTheDevice()
    {
        string trace = Trace("hello-snapshots");
        var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "20"], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr);
        // The second snapshot's UART scratch register as the recording never had it.
        string tampered = Trace("hello-scratch");
        using (var reader = TraceReader.Open(trace))
        using (var writer = new ChunkWriter(File.Create(tampered)))
        {
            var second = reader.Snapshots[1];
            foreach (var chunk in reader.File.Chunks.Where(c => c.Type != ChunkType.Index))
            {
                if (chunk != second) writer.Write(chunk.Type, reader.File.ReadPayload(chunk), chunk.FirstEvent);
                else
                {
                    var s = reader.ReadSnapshot(chunk, withPages: true);
                    var platform = s.Machine.Platform with { Com1 = s.Machine.Platform.Com1 with { Scr = 0x5A } };
                    writer.Write(chunk.Type, Recorder.Snapshots.SnapshotCodec.Encode(s with { Machine = s.Machine with { Platform = platform } }), chunk.FirstEvent);
                }
            }
            writer.Finish();
        }
        var replay = Vmreplay.Run(["replay", tampered], cpu: "soft");
        Assert.Equal(4, replay.ExitCode);
        Assert.Contains("Com1 device (", replay.Stderr);
        Assert.Contains("\"Scr\":90", replay.Stderr);
        // The trace as recorded passes the same checks.
        Assert.Equal(1, Vmreplay.Run(["replay", trace], cpu: "soft").ExitCode);
    }

    [Fact]
    public void ADeviceStateSpeltOtherwiseIsTheSameStateAndADifferentOneIsStillFound()
    {
        // A replay compares its devices with a snapshot's as the bytes the recording wrote, and
        // decodes them only when those differ: a snapshot an older build wrote may spell the same
        // state otherwise (here: indented, as the serializer writes it), which must still pass.
        string trace = Trace("hello-spelling");
        var record = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "20"], cpu: "soft");
        Assert.True(record.ExitCode == 1, record.Stderr);
        var indented = new System.Text.Json.JsonSerializerOptions(Recorder.Snapshots.SnapshotCodec.DeviceStateJson) { WriteIndented = true };
        string respelt = Trace("hello-respelt");
        RespellDeviceStates(trace, respelt, state => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(state, indented));
        var replay = Vmreplay.Run(["replay", respelt, "--strict"], cpu: "soft");
        Assert.True(replay.ExitCode == 1, replay.Stderr);
        Assert.Equal(record.Stdout, replay.Stdout);
        Assert.Contains("replay matched", replay.Stderr);
        // Spelt otherwise and different: the UART's scratch register, at every snapshot but the first.
        string changed = Trace("hello-respelt-changed");
        int snapshot = 0;
        RespellDeviceStates(trace, changed, state =>
        {
            var platform = snapshot++ == 0 ? state.Platform : state.Platform with { Com1 = state.Platform.Com1 with { Scr = 0x5A } };
            return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(state with { Platform = platform }, indented);
        });
        var diverged = Vmreplay.Run(["replay", changed], cpu: "soft");
        Assert.Equal(4, diverged.ExitCode);
        Assert.Contains("Com1 device (", diverged.Stderr);
    }

    // A snapshot's device state as the serializer writes it (the members of SnapshotCodec's own).
    private sealed record DeviceStatePart(Devices.Platform.PcPlatformState Platform, Engine.Run.RunnerCounters Counters);

    // Copies a trace with every snapshot's device state written by `spell` (valid CRCs).
    private static void RespellDeviceStates(string from, string to, Func<DeviceStatePart, byte[]> spell)
    {
        using var reader = TraceReader.Open(from);
        using var writer = new ChunkWriter(File.Create(to));
        foreach (var chunk in reader.File.Chunks.Where(c => c.Type != ChunkType.Index))
        {
            var payload = reader.File.ReadPayload(chunk);
            if (chunk.Type == ChunkType.Snapshot)
            {
                // The payload's layout (traces/FORMAT.md): a 48-byte header, the vCPU state and the
                // device state, each after its length, then the rest.
                int vcpu = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(48));
                int at = 48 + 4 + vcpu;
                int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(at));
                var state = Recorder.Snapshots.SnapshotCodec.MachineStateOf(reader.ReadStoredSnapshot(chunk, withPages: false));
                var json = spell(new DeviceStatePart(state.Platform, state.Counters));
                Assert.NotEqual(payload.AsSpan(at + 4, length).ToArray(), json);
                var respelt = new byte[payload.Length - length + json.Length];
                payload.AsSpan(0, at).CopyTo(respelt);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(respelt.AsSpan(at), json.Length);
                json.CopyTo(respelt.AsSpan(at + 4));
                payload.AsSpan(at + 4 + length).CopyTo(respelt.AsSpan(at + 4 + json.Length));
                payload = respelt;
            }
            writer.Write(chunk.Type, payload, chunk.FirstEvent);
        }
        writer.Finish();
    }

    [Fact]
    public void OnTheSoftwareCpuAServicePointMovedIsADivergenceAtTheNextExitNotAHang()
    {
        // The software CPU records where it stopped to deliver timer interrupts by instruction
        // count, and a replay stops there by counting; every exit carries its count too. With the
        // first point moved a million instructions on, the guest polls a million instructions
        // longer before the interrupt and its handler's first exit (the EOI) comes that much
        // later: the same access at another count, named as a divergence at that exit.
        string trace = Trace("timer-soft");
        var rec = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft");
        Assert.True(rec.ExitCode == 1 && File.Exists(trace), rec.Stderr);
        var straight = Vmreplay.Run(["replay", trace, "--strict"], cpu: "soft");
        Assert.True(straight.ExitCode == 1, straight.Stderr);
        Assert.Contains("(0 breakpoint stops to reach forced points)", straight.Stderr);
        string moved = Trace("timer-soft-moved");
        long at = TraceRewriting.FirstEvent(trace, moved, e => e is ScheduledServiceEvent s ? s with { Instructions = s.Instructions + 1_000_000 } : null);
        Assert.True(at >= 0, "the recording has no point named by its instruction count");
        var replay = Vmreplay.Run(["replay", moved, "--strict"], cpu: "soft", timeoutSeconds: 300);
        Assert.True(replay.ExitCode == 4, replay.Stderr);
        var m = System.Text.RegularExpressions.Regex.Match(replay.Stderr,
            @"replay diverged at event (\d+): expected exit Io out port 0020 size 1 count 1 data 20 at RIP (\w+) \(instruction (\d+)\), got exit Io out port 0020 size 1 count 1 data 20 at RIP \2 \(instruction (\d+)\)");
        Assert.True(m.Success, replay.Stderr);
        Assert.True(long.Parse(m.Groups[1].Value) > at, replay.Stderr);
        Assert.Equal(1_000_000, long.Parse(m.Groups[4].Value) - long.Parse(m.Groups[3].Value));

        // Moved back before the exits that precede it, the point is one the replay is already past.
        string early = Trace("timer-soft-early");
        Assert.Equal(at, TraceRewriting.FirstEvent(trace, early, e => e is ScheduledServiceEvent s ? s with { Instructions = 1 } : null));
        var past = Vmreplay.Run(["replay", early, "--strict"], cpu: "soft", timeoutSeconds: 300);
        Assert.True(past.ExitCode == 4, past.Stderr);
        Assert.Contains($"replay diverged at event {at}: expected timers and input serviced at instruction 1, got the replay is past it, at instruction ", past.Stderr);
    }

    [Fact]
    public void OnKvmSnapshotsAreTakenAtExitsNeverAtAForcedPoint()
    {
        // A snapshot right after a forced point's service named that stop by the events consumed
        // there, which the replay's timeline names by the event before them: gdb's reverse-stepi
        // across such a point found no way back and went to the start of the recording. timer
        // polls memory without exits, so its ticks come at forced points; a snapshot every
        // millisecond makes many of them due there.
        Vmreplay.RequireBackend("kvm");
        string trace = Trace("timer-snapshots");
        var rec = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null", "--snapshot-every", "1ms"], cpu: "kvm");
        Assert.True(File.Exists(trace), rec.Stderr);
        using var reader = TraceReader.Open(trace);
        var events = reader.Events().ToList();
        Assert.Contains(events, e => e is ForcedServiceEvent);
        Assert.True(reader.Snapshots.Count > 3, $"{reader.Snapshots.Count} snapshots");
        foreach (var snapshot in reader.Snapshots.Skip(1))
        {
            // What the stop consumed before the snapshot: the exit, and clock readings or input its handling took.
            int k = (int)snapshot.FirstEvent - 1;
            while (k > 0 && events[k] is ClockEvent or InputEvent) k--;
            Assert.True(events[k] is ExitEvent, $"snapshot at event {snapshot.FirstEvent} follows {events[k]}");
        }
        var replay = Vmreplay.Run(["replay", trace], timeoutSeconds: 300, cpu: "kvm");
        Assert.True(replay.ExitCode == rec.ExitCode, replay.Stderr);
        // Every snapshot after the start state is checked where it was taken.
        Assert.Matches($@"replay matched \d+ events, \d+ exits and {reader.Snapshots.Count - 1} snapshots", replay.Stderr);
    }

    [Fact]
    public void AForcedPointThatIsNeverReachedIsADivergenceNotAHang()
    {
        // timer polls memory with no exits, so on KVM its interrupts are delivered at forced
        // points. With the first one's memory hash changed, no pass through its instruction can match.
        Vmreplay.RequireBackend("kvm");
        string trace = Trace("timer");
        var rec = Vmreplay.Run(["record", Vmreplay.Guest("timer", "timer.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "kvm");
        Assert.True(File.Exists(trace), rec.Stderr);
        string tampered = Trace("timer-tampered");
        long at = TraceRewriting.FirstEvent(trace, tampered, e => e is ForcedServiceEvent f ? f with { DirtyHash = f.DirtyHash ^ 1 } : null);
        Assert.True(at >= 0, "the recording has no forced point");
        var replay = Vmreplay.Run(["replay", tampered, "--strict"], timeoutSeconds: 300, cpu: "kvm");
        Assert.Equal(4, replay.ExitCode);
        Assert.Contains($"replay diverged at event {at}: expected forced service point", replay.Stderr);
        Assert.Contains("passes through", replay.Stderr);

        // Without --strict, equal registers at the recorded instruction are the point and the
        // memory difference is reported, not hidden.
        var tolerant = Vmreplay.Run(["replay", tampered], timeoutSeconds: 300, cpu: "kvm");
        Assert.True(tolerant.ExitCode == rec.ExitCode, tolerant.Stderr);
        Assert.Contains("replay matched", tolerant.Stderr);
        Assert.Matches(@"guest memory differed from the recording in data only .*at 1 forced point taken on equal registers \(first event " + at + @", rip [0-9a-f]+\)", tolerant.Stderr);

        // Equal registers are not enough where the pages written differ too: that pass is
        // another one (or another path), so even a tolerant replay looks on and then diverges.
        string otherPages = Trace("timer-other-pages");
        Assert.Equal(at, TraceRewriting.FirstEvent(trace, otherPages, e => e is ForcedServiceEvent f
            ? f with { DirtyHash = f.DirtyHash ^ 1, PageListHash = f.PageListHash!.Value ^ 1 } : null));
        var pages = Vmreplay.Run(["replay", otherPages], timeoutSeconds: 300, cpu: "kvm");
        Assert.True(pages.ExitCode == 4, pages.Stderr);
        Assert.Contains($"replay diverged at event {at}: expected forced service point", pages.Stderr);
        Assert.Contains("registers equal, written pages differ", pages.Stderr);
    }

    [Fact]
    public void CorruptAndForeignTracesGiveOneLineErrors()
    {
        RecordAndReplay("hello", "hello.elf");
        var bytes = File.ReadAllBytes(Trace("hello"));
        bytes[40] ^= 0xFF; // inside the HEAD chunk
        string corrupt = Trace("corrupt");
        File.WriteAllBytes(corrupt, bytes);
        foreach (var cmd in new[] { "replay", "info" })
        {
            var r = Vmreplay.Run([cmd, corrupt]);
            Assert.Equal(3, r.ExitCode);
            Assert.Matches(@"^vmreplay: .*chunk 0 \(HEAD\) at offset 16 is corrupt.*\n$", r.Stderr);
        }
        string foreign = Trace("foreign");
        File.WriteAllText(foreign, "not a trace at all");
        var f = Vmreplay.Run(["replay", foreign]);
        Assert.Equal(3, f.ExitCode);
        Assert.Contains("not a vmreplay trace", f.Stderr);
    }

    [Fact]
    public void ATruncatedTraceReplaysUpToItsLastCompleteChunk()
    {
        var (record, _) = RecordAndReplay("hello", "hello.elf");
        var bytes = File.ReadAllBytes(Trace("hello"));
        string cut = Trace("cut");
        File.WriteAllBytes(cut, bytes.AsSpan(0, bytes.Length - 30).ToArray()); // loses the trailer and the end of the index
        long index = BitConverter.ToInt64(bytes, bytes.Length - 8);
        int chunks;
        using (var whole = TraceFileReader.Open(Trace("hello"))) chunks = whole.Chunks.Count;
        string reason = $"read {chunks} complete chunks up to offset {index}; then the file ends inside chunk {chunks} (INDX) at offset {index}";

        var info = Vmreplay.Run(["info", cut, "--json"]);
        Assert.True(info.ExitCode == 0 && info.Stderr == "", info.Stderr);
        using (var json = System.Text.Json.JsonDocument.Parse(info.Stdout))
        {
            Assert.False(json.RootElement.GetProperty("complete").GetBoolean());
            Assert.Equal(reason, json.RootElement.GetProperty("incompleteReason").GetString());
            Assert.Equal(90, json.RootElement.GetProperty("events").GetInt32());
        }
        var table = Vmreplay.Run(["info", cut]);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("│ complete   │ no: read ", table.Stdout);

        // Every event is in a complete chunk: the replay runs to the recorded end.
        var replay = Vmreplay.Run(["replay", cut]);
        Assert.True(replay.ExitCode == record.ExitCode, replay.Stderr);
        Assert.Equal(record.Stdout, replay.Stdout);
        Assert.StartsWith($"vmreplay: {cut} is incomplete ({reason}); replaying up to its last complete chunk\n", replay.Stderr);
        Assert.Contains("vmreplay: replay matched 90 events", replay.Stderr);
    }

    /// <summary>Copies a trace with the data byte of the first guest port write changed, with valid CRCs; returns that event's index.</summary>
    private static long RewriteFirstOutputByte(string from, string to) =>
        TraceRewriting.FirstEvent(from, to, e => e is ExitEvent { Reason: 2, Flags: ExitEvent.FlagWrite } x && x.Data.Length == 1
            ? x with { Data = [(byte)(x.Data[0] ^ 1)] }
            : null);
}

/// <summary><c>vmreplay diff</c> for CI: 0 identical, 1 different, 2 not comparable, 3 error.</summary>
public sealed class DiffTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-diff-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string RecordEcho(string name, string input)
    {
        string inputFile = Path.Combine(_dir, name + ".in");
        File.WriteAllText(inputFile, input);
        string trace = Path.Combine(_dir, name + ".vmtrace");
        var r = Vmreplay.Run(["record", Vmreplay.Guest("echo", "echo.elf"), "-o", trace, "--serial-in", inputFile]);
        Assert.Equal(1, r.ExitCode);
        return trace;
    }

    [Fact]
    public void SameInputWithoutForcedExitsComparesIdentical()
    {
        var r = Vmreplay.Run(["diff", RecordEcho("a", "same\nquit\n"), RecordEcho("b", "same\nquit\n")]);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("identical:", r.Stdout);
    }

    [Fact]
    public void DifferentInputNamesTheFirstDifferingEventAndTheSerialDifference()
    {
        string a = RecordEcho("a", "alpha\nquit\n"), b = RecordEcho("b", "alphx\nquit\n");
        var r = Vmreplay.Run(["diff", a, b]);
        Assert.Equal(1, r.ExitCode);
        // On the software CPU the place has an instruction count too; KVM counts none.
        Assert.Matches(@"first difference at event \d+( \(after instruction \d+\))?:", r.Stdout);
        Assert.Contains("A ", r.Stdout);
        Assert.Contains("serial input byte 61", r.Stdout); // 'a'
        Assert.Contains("serial input byte 78", r.Stdout); // 'x'
        Assert.Contains("serial output differs at byte 10", r.Stdout); // "echo: alph" then 'a' vs 'x'
        Assert.Matches(@"kind: input - the recordings got different input at event \d+ \(serial input: A byte 61, B byte 78\)", r.Stdout);
        var json = Vmreplay.Run(["diff", a, b, "--json"]);
        Assert.Equal(1, json.ExitCode);
        Assert.Contains("\"serialA\": \"echo: alpha\\necho: bye\\n\"", json.Stdout);
        Assert.Contains("\"kind\": \"input\"", json.Stdout);
    }

    [Fact]
    public void DifferentGuestsAreNotComparableAndMissingFilesAreErrors()
    {
        string hello = Path.Combine(_dir, "hello.vmtrace");
        Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", hello, "--serial-in", "/dev/null"]);
        string echo = RecordEcho("a", "quit\n");
        Assert.Equal(2, Vmreplay.Run(["diff", echo, hello]).ExitCode);
        var missing = Vmreplay.Run(["diff", echo, Path.Combine(_dir, "missing.vmtrace")]);
        Assert.Equal(3, missing.ExitCode);
        Assert.Contains("no such trace file", missing.Stderr);
    }
}
