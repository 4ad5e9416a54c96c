using System.IO.Hashing;
using System.Security.Cryptography;
using VmReplay.Engine.Memory;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder.Tests;

/// <summary>The end event's memory hash, as each trace format version defines it (traces/FORMAT.md, "End of run").</summary>
public sealed class FinalStateTests : IDisposable
{
    private const ulong Page = GuestMemory.PageSize;
    private const uint Version4 = 4, Version5 = 5;
    private readonly GuestMemory _m = GuestMemory.CreatePcLayout(4UL << 20);

    public FinalStateTests()
    {
        var random = new Random(42);
        foreach (ulong page in new ulong[] { 0, 1, 17, 300, 1023 })
        {
            var bytes = new byte[Page];
            random.NextBytes(bytes);
            _m.Write(page * Page, bytes);
        }
        _m.Write(500 * Page, new byte[Page]); // populated, all zeros
    }

    public void Dispose() => _m.Dispose();

    /// <summary>Straight from the definition: every page of RAM in address order, those not all zeros hashed with their address.</summary>
    private static ulong NonZeroPagesByDefinition(GuestMemory m)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in m.Regions)
            for (ulong gpa = r.GuestBase; gpa < r.GuestEnd; gpa += Page)
            {
                var page = m.GetSpan(gpa, (int)Page);
                if (!page.ContainsAnyExcept((byte)0)) continue;
                sha.AppendData(BitConverter.GetBytes(gpa));
                sha.AppendData(page);
            }
        return BitConverter.ToUInt64(sha.GetHashAndReset());
    }

    /// <summary>The same bytes as <see cref="NonZeroPagesByDefinition"/>, laid out in one buffer and hashed at once with XXH3-64 (seed 0).</summary>
    private static ulong NonZeroPagesXxh3ByDefinition(GuestMemory m)
    {
        var bytes = new List<byte>();
        foreach (var r in m.Regions)
            for (ulong gpa = r.GuestBase; gpa < r.GuestEnd; gpa += Page)
            {
                var page = m.GetSpan(gpa, (int)Page);
                if (!page.ContainsAnyExcept((byte)0)) continue;
                bytes.AddRange(BitConverter.GetBytes(gpa));
                bytes.AddRange(page.ToArray());
            }
        return XxHash3.HashToUInt64(bytes.ToArray());
    }

    private static ulong WholeRamByDefinition(GuestMemory m) =>
        BitConverter.ToUInt64(SHA256.HashData(m.GetSpan(0, (int)m.TotalSize)));

    [Fact]
    public void Version4HashesTheNonZeroPagesWithTheirAddresses()
    {
        ulong hash = FinalState.MemoryHash(_m, Version4);
        Assert.Equal(NonZeroPagesByDefinition(_m), hash);
        Assert.NotEqual(WholeRamByDefinition(_m), hash);
    }

    [Fact]
    public void Version5HashesTheSamePagesWithXxh3()
    {
        ulong hash = FinalState.MemoryHash(_m, Version5);
        Assert.Equal(NonZeroPagesXxh3ByDefinition(_m), hash);
        Assert.NotEqual(FinalState.MemoryHash(_m, Version4), hash);
        Assert.Equal(hash, FinalState.MemoryHash(_m, TraceFormat.Version));

        _m.WriteByte(17 * Page + 123, (byte)(_m.ReadByte(17 * Page + 123) ^ 1));
        Assert.NotEqual(hash, FinalState.MemoryHash(_m, Version5));
        Assert.Equal(NonZeroPagesXxh3ByDefinition(_m), FinalState.MemoryHash(_m, Version5));
        _m.Clear();
        Assert.Equal(XxHash3.HashToUInt64([]), FinalState.MemoryHash(_m, Version5));
    }

    [Fact]
    public void OneChangedByteChangesTheHash()
    {
        ulong before = FinalState.MemoryHash(_m, Version4);
        _m.WriteByte(17 * Page + 123, (byte)(_m.ReadByte(17 * Page + 123) ^ 1));
        ulong after = FinalState.MemoryHash(_m, Version4);
        Assert.NotEqual(before, after);
        Assert.Equal(NonZeroPagesByDefinition(_m), after);

        _m.WriteByte(700 * Page, 1); // a byte in a page never touched before
        Assert.NotEqual(after, FinalState.MemoryHash(_m, Version4));
    }

    [Fact]
    public void PagesOfZerosDoNotCountHoweverTheyCameToBe()
    {
        ulong before = FinalState.MemoryHash(_m, Version4);
        _m.Write(800 * Page, new byte[Page]);     // written with zeros
        _ = _m.ReadUInt64(900 * Page);             // read: the host maps its zero page there
        Assert.Equal(before, FinalState.MemoryHash(_m, Version4));

        _m.Write(1 * Page, new byte[Page]);       // a page of data zeroed again
        Assert.Equal(NonZeroPagesByDefinition(_m), FinalState.MemoryHash(_m, Version4));

        _m.Clear();
        Assert.Equal(BitConverter.ToUInt64(SHA256.HashData([])), FinalState.MemoryHash(_m, Version4));
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(2u)]
    [InlineData(3u)]
    public void VersionsBefore4HashAllOfRam(uint version)
    {
        Assert.Equal(WholeRamByDefinition(_m), FinalState.MemoryHash(_m, version));
        _m.WriteByte(2000, 0x5A);
        Assert.Equal(WholeRamByDefinition(_m), FinalState.MemoryHash(_m, version));
    }
}
