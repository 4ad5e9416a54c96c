using System.Text.Json;

namespace VmReplay.Recorder.Tests;

/// <summary>The MODE chunk is written member by member: it must be what the serializer writes, and read back.</summary>
public sealed class CpuModesSeenTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ItWritesWhatTheSerializerWritesAndReadsItBack(bool longMode)
    {
        var modes = new CpuModesSeen(longMode);
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(modes), modes.ToJson());
        Assert.Equal(modes, CpuModesSeen.FromJson(modes.ToJson()));
    }
}
