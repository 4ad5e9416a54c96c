using System.Buffers.Binary;

namespace VmReplay.Fuzz;

/// <summary>
/// Blind mutations of a byte string, as a mutational fuzzer makes them: bit flips, boundary
/// values written over 1, 2, 4 or 8 bytes, runs inserted, deleted or repeated, and splices from
/// another input. Seeded: the same random source gives the same mutations.
/// </summary>
public static class ByteMutator
{
    private static readonly ulong[] Boundaries = [0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, long.MaxValue, ulong.MaxValue];

    /// <summary>1 to 4 mutations of <paramref name="input"/>; <paramref name="other"/> is spliced from.</summary>
    public static byte[] Mutate(Random random, ReadOnlySpan<byte> input, ReadOnlySpan<byte> other)
    {
        var bytes = new List<byte>(input.ToArray());
        int rounds = 1 + random.Next(4);
        for (int i = 0; i < rounds; i++) Once(random, bytes, other);
        return bytes.ToArray();
    }

    private static void Once(Random random, List<byte> b, ReadOnlySpan<byte> other)
    {
        int at = b.Count == 0 ? 0 : random.Next(b.Count);
        switch (random.Next(8))
        {
            case 0 when b.Count > 0:
                b[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when b.Count > 0:
                b[at] = (byte)random.Next(256);
                break;
            case 2:
                // A boundary value over 1, 2, 4 or 8 bytes, little-endian (every field of a trace is).
                int width = 1 << random.Next(4);
                Span<byte> v = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(v, Boundaries[random.Next(Boundaries.Length)]);
                for (int k = 0; k < width && at + k < b.Count; k++) b[at + k] = v[k];
                break;
            case 3:
                b.InsertRange(at, Enumerable.Repeat((byte)random.Next(256), 1 + random.Next(32)));
                break;
            case 4 when b.Count > 0:
                b.RemoveRange(at, Math.Min(b.Count - at, 1 + random.Next(64)));
                break;
            case 5 when b.Count > 0:
                int length = Math.Min(b.Count - at, 1 + random.Next(64));
                b.InsertRange(random.Next(b.Count + 1), b.GetRange(at, length));
                break;
            case 6 when other.Length > 0:
                int from = random.Next(other.Length);
                int take = Math.Min(other.Length - from, 1 + random.Next(256));
                b.InsertRange(at, other.Slice(from, take).ToArray());
                break;
            case 7 when b.Count > 0:
                b.RemoveRange(at, b.Count - at); // cut short
                break;
        }
    }
}
