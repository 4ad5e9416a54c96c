using VmReplay.Recorder.Events;

namespace VmReplay.Recorder.Tests;

/// <summary>
/// A recording counts an exit as a repetition, and a replay takes one, when its shape equals the
/// last exit's: that must hold exactly when the two encode to the same bytes, the format's
/// definition of a repeat (traces/FORMAT.md, kind 10).
/// </summary>
public sealed class ExitShapeTests
{
    [Fact]
    public void TwoExitsHaveEqualShapesExactlyWhenTheyEncodeAlike()
    {
        // Few values per field, so that pairs often agree in all but one.
        var random = new Random(12);
        int equal = 0;
        for (int i = 0; i < 50_000; i++)
        {
            var (a, prevA) = RandomExit(random);
            var (b, prevB) = random.Next(4) == 0 ? (a, prevA) : RandomExit(random);
            var ea = Encoded(a, prevA);
            var eb = Encoded(b, prevB);
            Assert.True(ExitShape.TryOf(a.Fields, prevA.Rip, prevA.Scheduled, out var sa));
            Assert.True(ExitShape.TryOf(b.Fields, prevB.Rip, prevB.Scheduled, out var sb));
            bool same = ea.AsSpan().SequenceEqual(eb);
            Assert.True(same == (sa == sb), $"pair {i}: encodings {(same ? "equal" : "differ")}, shapes {(sa == sb ? "equal" : "differ")}: {Convert.ToHexString(ea)} / {Convert.ToHexString(eb)}");
            Assert.Equal(sa == sb, sa.Equals((object)sb));
            if (sa == sb) Assert.Equal(sa.GetHashCode(), sb.GetHashCode());
            if (same) equal++;
        }
        // Both sides of the claim were tried, and often.
        Assert.InRange(equal, 10_000, 40_000);
    }

    [Fact]
    public void APortExitComparedFromItsValuesHasTheShapeExactlyWhenItsFieldsDo()
    {
        // The recording's and the replay's shortcut for one-element port exits (IN/OUT) must
        // agree with building the exit's fields and comparing shapes, for any last shape.
        var random = new Random(13);
        int same = 0;
        for (int i = 0; i < 50_000; i++)
        {
            var (last, prevLast) = random.Next(2) == 0 ? RandomExit(random) : RandomPortExit(random);
            var (port, prev) = random.Next(4) == 0 ? (last, prevLast) : RandomPortExit(random);
            if (port.Reason != (uint)ExitReason.Io || port.Count != 1 || port.Data.Length != port.Size) continue;
            Assert.True(ExitShape.TryOf(last.Fields, prevLast.Rip, prevLast.Scheduled, out var lastShape));
            Assert.True(ExitShape.TryOf(port.Fields, prev.Rip, prev.Scheduled, out var portShape));
            ulong data = 0;
            for (int b = port.Data.Length - 1; b >= 0; b--) data = data << 8 | port.Data[b];
            bool fromValues = lastShape.IsPortExit(port.Rip, prev.Rip, port.Instructions, prev.Scheduled, (ushort)port.Address, port.Size,
                (port.Flags & ExitEvent.FlagWrite) != 0, data);
            Assert.True(fromValues == (lastShape == portShape), $"pair {i}: {Describe(port, prev)} after {Describe(last, prevLast)}: from values {fromValues}");
            if (fromValues) same++;
        }
        Assert.InRange(same, 2_000, 40_000);
    }

    [Fact]
    public void AnExitThatMovesMoreThanSixteenBytesHasNoShape()
    {
        var x = new ExitFields(2, 0x1000, 0x3f8, 1, ExitEvent.FlagWrite, 17, new byte[17], 40);
        Assert.False(ExitShape.TryOf(x, 0, 0, out _));
        var y = new ExitFields(2, 0x1000, 0x3f8, 1, ExitEvent.FlagWrite, 16, new byte[16], 40);
        Assert.True(ExitShape.TryOf(y, 0, 0, out _));
    }

    private sealed record Sample(uint Reason, ulong Rip, ulong Address, byte Size, byte Flags, uint Count, byte[] Data, long? Instructions)
    {
        public ExitFields Fields => new(Reason, Rip, Address, Size, Flags, Count, Data, Instructions);
    }

    private static (Sample Exit, (ulong Rip, long Scheduled) Prev) RandomExit(Random r)
    {
        int[] lengths = [0, 1, 2, 4, 8, 9, 15, 16];
        var data = new byte[lengths[r.Next(lengths.Length)]];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(r.Next(8) == 0 ? 1 : 0);
        ulong prevRip = 0x7c00 + (ulong)r.Next(3);
        long prevScheduled = 100 + r.Next(3);
        var exit = new Sample((uint)r.Next(1, 3), prevRip + (ulong)r.Next(3) - 1, 0x3f8 + (ulong)r.Next(2), (byte)(1 << r.Next(2)), (byte)r.Next(2),
            (uint)r.Next(1, 3), data, r.Next(5) == 0 ? null : prevScheduled + r.Next(3));
        return (exit, (prevRip, prevScheduled));
    }

    private static string Describe(Sample x, (ulong Rip, long Scheduled) prev) =>
        $"reason {x.Reason} rip {x.Rip:x} address {x.Address:x} size {x.Size} flags {x.Flags} count {x.Count} data {Convert.ToHexString(x.Data)} instructions {x.Instructions} (prev {prev.Rip:x}, {prev.Scheduled})";

    // IN or OUT of one element, with few values per field.
    private static (Sample Exit, (ulong Rip, long Scheduled) Prev) RandomPortExit(Random r)
    {
        byte size = (byte)(1 << r.Next(3));
        var data = new byte[size];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(r.Next(8) == 0 ? 1 : 0);
        ulong prevRip = 0x7c00 + (ulong)r.Next(3);
        long prevScheduled = 100 + r.Next(3);
        var exit = new Sample((uint)ExitReason.Io, prevRip + (ulong)r.Next(3) - 1, 0x3f8 + (ulong)r.Next(2), size, (byte)r.Next(2), 1, data,
            r.Next(5) == 0 ? null : prevScheduled + r.Next(3));
        return (exit, (prevRip, prevScheduled));
    }

    private static unsafe byte[] Encoded(Sample x, (ulong Rip, long Scheduled) prev)
    {
        var buffer = new byte[EventCodec.MaxExitSize(x.Data.Length)];
        fixed (byte* p = buffer)
            return buffer[..EventCodec.WriteExit(p, x.Fields, prev.Rip, prev.Scheduled)];
    }
}
