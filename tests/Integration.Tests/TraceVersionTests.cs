using System.Text.Json;
using VmReplay.Engine.Memory;
using VmReplay.Fuzz;
using VmReplay.Recorder;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;
using VmReplay.Recorder.Snapshots;
using VmReplay.Replayer;

namespace VmReplay.Integration.Tests;

/// <summary>
/// Traces in format version 1 (the guest image raw in IMAG, the end event's memory hash over all
/// of RAM) replay and show in info as they did before version 2 compressed the image and version
/// 4 hashed only non-zero pages: recordings made then must keep working.
/// </summary>
public sealed class TraceVersionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-version-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("hello", "hello.elf")]
    [InlineData("timer64", "timer64.elf")]
    public void AVersion1TraceReplaysLikeTheCurrentOneItWasMadeFrom(string guest, string file)
    {
        string current = Path.Combine(_dir, guest + ".vmtrace");
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", current, "--serial-in", "/dev/null"]);
        string v1 = Path.Combine(_dir, guest + "-v1.vmtrace");
        DowngradeToVersion1(current, v1);

        using (var trace = TraceReader.Open(v1))
        {
            Assert.Equal(1u, trace.Version);
            Assert.Equal(ChunkType.Image, trace.ImageChunk.Type);
            Assert.Equal(File.ReadAllBytes(Vmreplay.Guest(guest, file)), trace.Image);
        }
        foreach (var path in new[] { current, v1 })
        {
            var replay = Vmreplay.Run(["replay", path]);
            Assert.True(replay.ExitCode == record.ExitCode, $"{path}: {replay.Stderr}");
            Assert.Equal(record.Stdout, replay.Stdout);
            Assert.Contains("replay matched", replay.Stderr);
            Assert.DoesNotContain("differed", replay.Stderr);
        }

        var info = Vmreplay.Run(["info", v1, "--json"]);
        Assert.True(info.ExitCode == 0, info.Stderr);
        using var json = JsonDocument.Parse(info.Stdout);
        Assert.Equal(1, json.RootElement.GetProperty("formatVersion").GetInt32());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("initrd").ValueKind);
        // Stored raw: the chunk is the image.
        Assert.Equal(json.RootElement.GetProperty("imageBytes").GetInt64(), json.RootElement.GetProperty("imageChunkBytes").GetInt64());
        Assert.Equal(0, Vmreplay.Run(["info", v1]).ExitCode);
    }

    [Theory]
    [InlineData("hello", "hello.elf")]
    [InlineData("timer64", "timer64.elf")]
    public void AVersion4TraceWithSha256PageHashesReplaysLikeTheCurrentOne(string guest, string file)
    {
        string current = Path.Combine(_dir, guest + ".vmtrace");
        // Snapshots every few exits: each is decoded (its hash checked) and verified on the way.
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", current, "--serial-in", "/dev/null", "--snapshot-every", "10"]);
        string v4 = Path.Combine(_dir, guest + "-v4.vmtrace");
        DowngradeToVersion4(current, v4);

        using (var trace = TraceReader.Open(v4))
        using (var now = TraceReader.Open(current))
        {
            Assert.Equal(4u, trace.Version);
            Assert.True(trace.Snapshots.Count > 1, $"{guest}: {trace.Snapshots.Count} snapshots");
            for (int i = 0; i < trace.Snapshots.Count; i++)
            {
                var old = trace.ReadSnapshot(trace.Snapshots[i], withPages: true);
                var made = now.ReadSnapshot(now.Snapshots[i], withPages: true);
                Assert.Equal(made.PageData, old.PageData);
                Assert.NotEqual(made.MemoryHash, old.MemoryHash);
            }
        }
        foreach (var path in new[] { current, v4 })
        {
            var replay = Vmreplay.Run(["replay", path, "--strict"]);
            Assert.True(replay.ExitCode == record.ExitCode, $"{path}: {replay.Stderr}");
            Assert.Equal(record.Stdout, replay.Stdout);
            Assert.Contains("replay matched", replay.Stderr);
        }
        // The same run in both versions: their end hashes are made differently, so diff leaves them out.
        var diff = Vmreplay.Run(["diff", current, v4]);
        Assert.True(diff.ExitCode == 0, diff.Stdout + diff.Stderr);
        Assert.StartsWith("identical", diff.Stdout);
        // A version-4 trace whose hashes were XXH3's would not decode: the version decides.
        var tampered = Path.Combine(_dir, guest + "-v4-xxh3.vmtrace");
        File.Copy(current, tampered);
        using (var f = new FileStream(tampered, FileMode.Open, FileAccess.Write)) { f.Position = 8; f.Write(BitConverter.GetBytes(4u)); }
        Assert.NotEqual(record.ExitCode, Vmreplay.Run(["replay", tampered]).ExitCode);
    }

    [Fact]
    public void AnUnknownVersionIsRefusedNamingTheVersionsThisVmreplayReads()
    {
        string trace = Path.Combine(_dir, "hello.vmtrace");
        Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null"]);
        var bytes = File.ReadAllBytes(trace);
        bytes[8] = 8;
        File.WriteAllBytes(trace, bytes);
        foreach (var command in new[] { "replay", "info" })
        {
            var r = Vmreplay.Run([command, trace]);
            Assert.Equal(3, r.ExitCode);
            Assert.Equal($"vmreplay: {trace}: trace format version 8 is not supported (this vmreplay reads versions 1, 2, 3, 4, 5, 6 and 7)\n", r.Stderr);
        }
    }

    /// <summary>
    /// Writes <paramref name="from"/> as version 1 wrote it: the image raw in IMAG in place of
    /// IMGZ, the end event's memory hash as versions before 4 define it (the SHA-256 of all of
    /// RAM, from a replay of <paramref name="from"/>), the snapshots' memory hashes as versions
    /// before 5 define them (SHA-256), every exit written out where version 6 repeats one, and
    /// version 1 in the file header (which no CRC covers); everything else is the same.
    /// </summary>
    private static void DowngradeToVersion1(string from, string to) =>
        Downgrade(from, to, 1, EndMemoryHashAtTheEnd(from, formatVersion: 1), rawImage: true);

    /// <summary>
    /// Writes <paramref name="from"/> as version 4 wrote it: the page-set hashes of the end event
    /// and of the snapshots made with SHA-256 in place of XXH3-64, every exit written out where
    /// version 6 repeats one, and version 4 in the header.
    /// </summary>
    private static void DowngradeToVersion4(string from, string to) =>
        Downgrade(from, to, 4, EndMemoryHashAtTheEnd(from, formatVersion: 4), rawImage: false);

    private static void Downgrade(string from, string to, uint version, ulong endMemoryHash, bool rawImage)
    {
        using (var reader = TraceReader.Open(from))
        using (var writer = new ChunkWriter(File.Create(to)))
        {
            if (rawImage) Assert.Null(reader.InitrdChunk); // version 1 had no initrd
            foreach (var chunk in reader.File.Chunks.Where(c => c.Type != ChunkType.Index))
            {
                if (chunk.Type == ChunkType.CompressedImage && rawImage) writer.Write(ChunkType.Image, reader.Image);
                else if (chunk.Type == ChunkType.Events)
                {
                    // Every exit written out: versions before 6 repeat none.
                    var rehashed = reader.DecodeEvents(chunk).Select(e => e is EndEvent end ? end with { MemoryHash = endMemoryHash } : e).ToList();
                    writer.Write(chunk.Type, StoredZstdFrame.Of(EventCodec.Encode(rehashed, version)), chunk.FirstEvent);
                }
                else if (chunk.Type == ChunkType.Snapshot)
                {
                    var s = reader.ReadSnapshot(chunk, withPages: true);
                    var sha = s with { MemoryHash = PageSetHash.Of(s.Pages, s.PageData, TraceFormat.PageHashOf(version)) };
                    writer.Write(chunk.Type, SnapshotCodec.Encode(sha), chunk.FirstEvent);
                }
                else writer.Write(chunk.Type, reader.File.ReadPayload(chunk), chunk.FirstEvent);
            }
            writer.Finish();
        }
        using var file = new FileStream(to, FileMode.Open, FileAccess.Write);
        file.Position = 8;
        file.Write(BitConverter.GetBytes(version));
    }

    private static ulong EndMemoryHashAtTheEnd(string trace, uint formatVersion)
    {
        using var reader = TraceReader.Open(trace);
        using var session = ReplaySession.Open(reader, "/dev/kvm", Stream.Null);
        session.RunToEnd();
        return FinalState.MemoryHash(session.Machine.Memory, formatVersion);
    }
}

/// <summary>A recording made on KVM replays on the software CPU: a trace from a fast machine can be debugged anywhere.</summary>
public sealed class CrossBackendReplayTests
{
    // Recorded on KVM (format version 1) before the software CPU existed; kept in the repository
    // because machines without KVM cannot make new ones.
    private static string KvmFixture => Path.Combine(Vmreplay.RepoRoot, "tests", "Recorder.Tests", "Fixtures", "hello-v1.vmtrace");

    [Fact]
    public void TheKvmRecordedFixtureReplaysOnTheSoftwareCpuToItsEndWithItsSerialOutput()
    {
        var r = Vmreplay.Run(["replay", KvmFixture, "--cpu", "soft", "--strict"]);
        Assert.True(r.ExitCode == 1, r.Stderr);
        Assert.StartsWith("soft", r.Cpu);
        Assert.Equal("Hello from vmreplay guest!\n", r.Stdout);
        Assert.Matches(@"replay matched 90 events, 62 exits and 3 snapshots", r.Stderr);
    }

    [Fact]
    public void ASoftwareCpuRecordingIsNotReplayedOnKvm()
    {
        string dir = Directory.CreateTempSubdirectory("vmreplay-cross-").FullName;
        try
        {
            string trace = Path.Combine(dir, "hello.vmtrace");
            var rec = Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null"], cpu: "soft");
            Assert.True(rec.ExitCode == 1, rec.Stderr);
            var r = Vmreplay.Run(["replay", trace, "--cpu", "kvm"]);
            Assert.Equal(3, r.ExitCode);
            Assert.Equal("vmreplay: --cpu kvm: this trace was recorded on the software CPU, whose exits and CPU model KVM cannot reproduce; replay it with --cpu soft (or auto)\n", r.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
