using System.Text.Json;
using VmReplay.Recorder;
using VmReplay.Recorder.Format;

namespace VmReplay.Integration.Tests;

/// <summary>
/// Traces in format version 1 (the guest image raw in IMAG) replay and show in info as they did
/// before version 2 compressed the image: recordings made then must keep working.
/// </summary>
public sealed class TraceVersionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-version-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("hello", "hello.elf")]
    [InlineData("timer64", "timer64.elf")]
    public void AVersion1TraceReplaysLikeTheVersion2OneItWasMadeFrom(string guest, string file)
    {
        string v2 = Path.Combine(_dir, guest + ".vmtrace");
        var record = Vmreplay.Run(["record", Vmreplay.Guest(guest, file), "-o", v2, "--serial-in", "/dev/null"]);
        string v1 = Path.Combine(_dir, guest + "-v1.vmtrace");
        DowngradeToVersion1(v2, v1);

        using (var trace = TraceReader.Open(v1))
        {
            Assert.Equal(1u, trace.Version);
            Assert.Equal(ChunkType.Image, trace.ImageChunk.Type);
            Assert.Equal(File.ReadAllBytes(Vmreplay.Guest(guest, file)), trace.Image);
        }
        foreach (var path in new[] { v2, v1 })
        {
            var replay = Vmreplay.Run(["replay", path]);
            Assert.True(replay.ExitCode == record.ExitCode, $"{path}: {replay.Stderr}");
            Assert.Equal(record.Stdout, replay.Stdout);
            Assert.Contains("replay matched", replay.Stderr);
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

    [Fact]
    public void AnUnknownVersionIsRefusedNamingTheVersionsThisVmreplayReads()
    {
        string trace = Path.Combine(_dir, "hello.vmtrace");
        Vmreplay.Run(["record", Vmreplay.Guest("hello", "hello.elf"), "-o", trace, "--serial-in", "/dev/null"]);
        var bytes = File.ReadAllBytes(trace);
        bytes[8] = 3;
        File.WriteAllBytes(trace, bytes);
        foreach (var command in new[] { "replay", "info" })
        {
            var r = Vmreplay.Run([command, trace]);
            Assert.Equal(3, r.ExitCode);
            Assert.Equal($"vmreplay: {trace}: trace format version 3 is not supported (this vmreplay reads versions 1 and 2)\n", r.Stderr);
        }
    }

    /// <summary>
    /// Writes <paramref name="from"/> as version 1 wrote it: the image raw in IMAG in place of
    /// IMGZ, and version 1 in the file header (which no CRC covers); everything else is the same.
    /// </summary>
    private static void DowngradeToVersion1(string from, string to)
    {
        using (var reader = TraceReader.Open(from))
        using (var writer = new ChunkWriter(File.Create(to)))
        {
            Assert.Null(reader.InitrdChunk); // version 1 had no initrd
            foreach (var chunk in reader.File.Chunks.Where(c => c.Type != ChunkType.Index))
            {
                if (chunk.Type == ChunkType.CompressedImage) writer.Write(ChunkType.Image, reader.Image);
                else writer.Write(chunk.Type, reader.File.ReadPayload(chunk), chunk.FirstEvent);
            }
            writer.Finish();
        }
        using var file = new FileStream(to, FileMode.Open, FileAccess.Write);
        file.Position = 8;
        file.Write(BitConverter.GetBytes(1u));
    }
}
