using System.Text.Json;
using System.Text.Json.Nodes;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// Snapshots are written with a generated serializer and read with it when they hold every
/// member, else with the reflection-based one: the two must write the same bytes for every device
/// state a recording holds, read it back alike, and a member an older snapshot lacks must get its
/// declared default, as reflection gives it.
/// </summary>
public class DeviceStateJsonTests
{
    [Theory]
    [InlineData("timer-v3.vmtrace")]
    [InlineData("hello-v4.vmtrace")]
    [InlineData("hello-v2.vmtrace")]
    public void TheGeneratedSerializerWritesWhatReflectionWrites(string corpusTrace)
    {
        foreach (var s in CorpusSnapshots(corpusTrace))
        {
            var part = Part(s);
            string generated = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(part, DeviceStateJsonContext.Default.MachinePart));
            string reflected = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(part, SnapshotCodec.DeviceStateJson));
            Assert.Equal(reflected, generated);
            // The writer a recording uses, which builds no metadata, too.
            Assert.Equal(reflected, System.Text.Encoding.UTF8.GetString(DeviceStateJsonWriter.Write(part)));
            // Each device alone, as monitor device and the snapshot checks show it, too.
            var byReflection = typeof(VmReplay.Devices.Platform.PcPlatformState).GetProperties()
                .Select(p => (p.Name, JsonSerializer.Serialize(p.GetValue(s.Machine.Platform), p.PropertyType, SnapshotCodec.DeviceStateJson)));
            Assert.Equal(byReflection, SnapshotCodec.DeviceStates(s.Machine.Platform));
            // And it reads back to the same state.
            var read = JsonSerializer.Deserialize<SnapshotCodec.MachinePart>(generated, SnapshotCodec.DeviceStateJson)!;
            Assert.Equal(reflected, JsonSerializer.Serialize(read, SnapshotCodec.DeviceStateJson));
        }
    }

    [Fact]
    public void TheRecordingsWriterWritesWhatReflectionWritesWithEveryOptionalMemberSet()
    {
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var pit = s.Machine.Platform.Pit;
        var platform = s.Machine.Platform with
        {
            Pit = pit with { Channels = [.. pit.Channels.Select((c, i) => c with { LatchedCount = 1000 + i, LatchedStatus = (byte)(0x30 + i) })] },
            Keyboard = s.Machine.Platform.Keyboard with { PendingCommand = 0x60 },
        };
        var part = new SnapshotCodec.MachinePart(platform, s.Machine.Counters with { Instructions = 123_456, IdleNanoseconds = 789 });
        string reflected = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(part, SnapshotCodec.DeviceStateJson));
        Assert.Contains("\"LatchedCount\":1002", reflected);
        Assert.Contains("\"PendingCommand\":96", reflected);
        Assert.Equal(reflected, System.Text.Encoding.UTF8.GetString(DeviceStateJsonWriter.Write(part)));
    }

    [Fact]
    public void BoardsAreTheSameExactlyWhenEveryDeviceIsAndTheDifferenceNamesTheDevice()
    {
        // How a replay checks devices at a snapshot: the whole board's JSON from the writer that
        // builds no metadata, and only when it differs, device by device.
        var snapshots = CorpusSnapshots("timer-v3.vmtrace");
        var board = snapshots[^1].Machine.Platform;
        var copy = JsonSerializer.Deserialize<SnapshotCodec.MachinePart>(JsonSerializer.SerializeToUtf8Bytes(Part(snapshots[^1]), SnapshotCodec.DeviceStateJson), SnapshotCodec.DeviceStateJson)!.Platform;
        Assert.True(SnapshotCodec.SameDeviceStates(board, copy));
        Assert.Equal(SnapshotCodec.DeviceStates(board), SnapshotCodec.DeviceStates(copy));
        var changed = board with { Keyboard = board.Keyboard with { PendingCommand = 0x60 } };
        Assert.False(SnapshotCodec.SameDeviceStates(board, changed));
        Assert.Equal(["Keyboard"], SnapshotCodec.DeviceStates(board).Zip(SnapshotCodec.DeviceStates(changed)).Where(d => d.First.Json != d.Second.Json).Select(d => d.First.Name));
        var pit = board.Pit with { Channels = [.. board.Pit.Channels.Select((c, i) => i == 2 ? c with { LatchedCount = 7 } : c)] };
        Assert.False(SnapshotCodec.SameDeviceStates(board, board with { Pit = pit }));
        if (snapshots.Count > 1) Assert.Equal(SnapshotCodec.DeviceStates(snapshots[0].Machine.Platform).SequenceEqual(SnapshotCodec.DeviceStates(board)), SnapshotCodec.SameDeviceStates(snapshots[0].Machine.Platform, board));
    }

    [Theory]
    [InlineData("timer-v2.vmtrace")]
    [InlineData("timer-v3.vmtrace")]
    [InlineData("hello-v1.vmtrace")]
    [InlineData("hello-v4.vmtrace")]
    public void TheGeneratedReaderReadsWhatReflectionReads(string corpusTrace)
    {
        foreach (var s in CorpusSnapshots(corpusTrace))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(Part(s), DeviceStateJsonContext.Default.MachinePart);
            var generated = SnapshotCodec.ReadDeviceState(json)!;
            var reflected = JsonSerializer.Deserialize<SnapshotCodec.MachinePart>(json, SnapshotCodec.DeviceStateJson)!;
            Assert.Equal(JsonSerializer.Serialize(reflected, SnapshotCodec.DeviceStateJson), JsonSerializer.Serialize(generated, SnapshotCodec.DeviceStateJson));
        }
    }

    [Theory]
    [InlineData("timer-v2.vmtrace")]
    [InlineData("timer-v3.vmtrace")]
    [InlineData("hello-v4.vmtrace")]
    public void TheDocumentReaderReadsWhatTheSerializerReads(string corpusTrace)
    {
        var states = CorpusSnapshots(corpusTrace).Select(Part).ToList();
        states.Add(EveryOptionalMemberSet());
        foreach (var part in states)
        {
            byte[] json = DeviceStateJsonWriter.Write(part);
            var read = DeviceStateJsonReader.TryRead(json);
            Assert.NotNull(read);
            var serializer = JsonSerializer.Deserialize<SnapshotCodec.MachinePart>(json, SnapshotCodec.DeviceStateJson)!;
            Assert.Equal(JsonSerializer.Serialize(serializer, SnapshotCodec.DeviceStateJson), JsonSerializer.Serialize(read, SnapshotCodec.DeviceStateJson));
            Assert.Equal(part.Counters, read.Counters);
        }
    }

    [Fact]
    public void EveryMemberOfEveryDeviceStateIsReadByTheDocumentReader()
    {
        // A member added to a state record and not to the reader: the reader declines the
        // snapshot (the object holds a member it does not take) and the test fails here.
        var part = EveryOptionalMemberSet();
        var read = DeviceStateJsonReader.TryRead(DeviceStateJsonWriter.Write(part));
        Assert.NotNull(read);
        Assert.Equal(JsonSerializer.Serialize(part, SnapshotCodec.DeviceStateJson), JsonSerializer.Serialize(read, SnapshotCodec.DeviceStateJson));
    }

    [Theory]
    [InlineData("remove", "Gate")]
    [InlineData("add", "Unknown")]
    [InlineData("null", "RxFifo")]
    [InlineData("string", "Mode")]
    public void TheDocumentReaderLeavesAnythingElseToTheSerializer(string change, string member)
    {
        var json = JsonNode.Parse(DeviceStateJsonWriter.Write(EveryOptionalMemberSet()))!;
        var target = member == "RxFifo" ? json["Platform"]!["Com1"]!.AsObject() : json["Platform"]!["Pit"]!["Channels"]![0]!.AsObject();
        switch (change)
        {
            case "remove": target.Remove(member); break;
            case "add": target[member] = 1; break;
            case "null": target[member] = null; break;
            default: target[member] = "3"; break;
        }
        Assert.Null(DeviceStateJsonReader.TryRead(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())));
    }

    // A corpus state with the members that are usually null or default set.
    private static SnapshotCodec.MachinePart EveryOptionalMemberSet()
    {
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var p = s.Machine.Platform;
        var platform = p with
        {
            Pit = p.Pit with { Channels = [.. p.Pit.Channels.Select((c, i) => c with { LatchedCount = 1000 + i, LatchedStatus = (byte)(0x30 + i) })] },
            Keyboard = p.Keyboard with { PendingCommand = 0x60 },
            Com1 = p.Com1 with { RxFifo = [1, 2, 3] },
            Pci = p.Pci with { ConfigAddress = 0x8000_0010, BridgeCommand = 6, BridgeLatencyTimer = 32 },
        };
        return new SnapshotCodec.MachinePart(platform, s.Machine.Counters with { TscOffset = -5, Instructions = 123_456, IdleNanoseconds = 789 });
    }

    [Fact]
    public void AMemberTheSnapshotLacksGetsItsDeclaredDefault()
    {
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var json = JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(Part(s), DeviceStateJsonContext.Default.MachinePart))!;
        var platform = json["Platform"]!;
        var channel = platform["Pit"]!["Channels"]![1]!.AsObject();
        var master = platform["Pic"]!["Master"]!.AsObject();
        // The state holds the members at values other than their defaults, so a read that keeps them proves nothing.
        channel["Gate"] = false;
        master["LowestPriority"] = 3;
        Assert.True(channel.Remove("Gate"));
        Assert.True(master.Remove("LowestPriority"));

        var read = SnapshotCodec.ReadDeviceState(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()))!;

        Assert.True(new VmReplay.Devices.Timer.PitChannelState().Gate);
        Assert.True(read.Platform.Pit.Channels[1].Gate);
        Assert.Equal(7, new VmReplay.Devices.Interrupts.Pic8259State().LowestPriority);
        Assert.Equal(7, read.Platform.Pic.Master.LowestPriority);
        // Everything else is read as written.
        Assert.Equal(s.Machine.Platform.Com1, read.Platform.Com1);
        Assert.Equal(s.Machine.Platform.Pit.Channels[0], read.Platform.Pit.Channels[0]);
    }

    [Fact]
    public void AMemberNameThatIsNotUtf8IsAJsonError()
    {
        // The name no reader knows, so the state is completed from the defaults, which reads
        // every name: a byte that is not UTF-8 there is a refusal, not a crash (found by fuzzing).
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var json = JsonSerializer.SerializeToUtf8Bytes(Part(s), DeviceStateJsonContext.Default.MachinePart);
        int at = json.AsSpan().IndexOf("\"Gate\""u8);
        Assert.True(at > 0);
        json[at + 2] = 0xF2;
        var e = Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState(json));
        Assert.Contains("not valid JSON text", e.Message);
    }

    [Fact]
    public void AMemberGivenTwiceWhereAnotherIsMissingIsAJsonError()
    {
        // The generated serializer takes the last of two; the object the state is completed in
        // refuses the second (found by fuzzing, as an ArgumentException that ended the process).
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var text = System.Text.Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(Part(s), DeviceStateJsonContext.Default.MachinePart));
        int gate = text.IndexOf("\"Gate\":", StringComparison.Ordinal);
        text = text[..gate] + "\"Mode\":1," + text[gate..].Replace("\"Gate\":true,", "").Replace("\"Gate\":false,", "");
        var e = Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState(System.Text.Encoding.UTF8.GetBytes(text)));
        Assert.Contains("twice", e.Message);
    }

    [Theory]
    [InlineData("Pic")]
    [InlineData("Rtc")]
    [InlineData("Pci")]
    public void ABoardThatLacksADeviceIsRefused(string device)
    {
        // The serializer reads what the hand-written reader leaves to it: a device missing is
        // its error, a device given as null is read as null and refused by name. Neither may
        // reach a restore.
        var s = CorpusSnapshots("timer-v3.vmtrace")[^1];
        var json = JsonNode.Parse(JsonSerializer.SerializeToUtf8Bytes(Part(s), DeviceStateJsonContext.Default.MachinePart))!;
        var platform = json["Platform"]!.AsObject();
        platform[device] = null;
        var e = Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())));
        Assert.Contains($"lacks its {device} device", e.Message);
        Assert.True(platform.Remove(device));
        Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString())));
    }

    [Fact]
    public void DeviceStateThatDoesNotDecodeIsAJsonError()
    {
        Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState("{\"Platform\": 5}"u8));
        Assert.ThrowsAny<JsonException>(() => SnapshotCodec.ReadDeviceState("{\"Platform\""u8));
    }

    // Every snapshot of a corpus trace, without its pages.
    private static List<Snapshot> CorpusSnapshots(string name)
    {
        using var trace = TraceReader.Open(Corpus(name));
        Assert.NotEmpty(trace.Snapshots);
        return trace.Snapshots.Select(chunk => trace.ReadSnapshot(chunk, withPages: false)).ToList();
    }

    private static SnapshotCodec.MachinePart Part(Snapshot s) => new(s.Machine.Platform, s.Machine.Counters);

    private static string Corpus(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "Fuzz", "Corpus", "trace", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"the fuzz corpus trace {name} is not above {AppContext.BaseDirectory}");
    }
}
