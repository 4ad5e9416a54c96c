using System.IO.Hashing;
using System.Security.Cryptography;

namespace VmReplay.Engine.Memory;

/// <summary>
/// The hash that stands for a set of guest pages: each page's guest-physical address (u64,
/// little-endian) and its 4 KiB of contents, in the order given, hashed with a
/// <see cref="PageHashAlgorithm"/> to 64 bits. The same value whether the pages are read from RAM
/// or from a snapshot's copy.
/// </summary>
/// <remarks>
/// The pages come as spans, not as collection interfaces: over an array those are the runtime's
/// array adapters, whose generic code no precompiled image holds (the JIT compiled three of them
/// at every recording's and replay's first snapshot).
/// </remarks>
public static class PageSetHash
{
    public static ulong Of(GuestMemory memory, ReadOnlySpan<ulong> pages, PageHashAlgorithm algorithm)
    {
        using var hash = PageHasher.Create(algorithm);
        foreach (ulong gpa in pages) hash.Append(gpa, memory.GetSpan(gpa, (int)GuestMemory.PageSize));
        return hash.Finish();
    }

    /// <summary>
    /// Hash of the page addresses alone (SHA-256). Which pages a stretch of guest code writes
    /// follows its control flow; what it writes there can also carry values the VMM cannot
    /// record (RDTSC).
    /// </summary>
    public static ulong OfAddresses(ReadOnlySpan<ulong> pages)
    {
        using var hash = PageHasher.Create(PageHashAlgorithm.Sha256);
        foreach (ulong gpa in pages) hash.Append(gpa, []);
        return hash.Finish();
    }

    /// <summary><paramref name="data"/> holds the pages of <paramref name="pages"/> back to back.</summary>
    public static ulong Of(ReadOnlySpan<ulong> pages, ReadOnlySpan<byte> data, PageHashAlgorithm algorithm)
    {
        using var hash = PageHasher.Create(algorithm);
        for (int i = 0; i < pages.Length; i++)
            hash.Append(pages[i], data.Slice(i * (int)GuestMemory.PageSize, (int)GuestMemory.PageSize));
        return hash.Finish();
    }

    // One page set's hash in the making, by either algorithm.
    private abstract class PageHasher : IDisposable
    {
        public static PageHasher Create(PageHashAlgorithm algorithm) => algorithm switch
        {
            PageHashAlgorithm.Sha256 => Sha256Hasher.Create(),
            PageHashAlgorithm.Xxh3 => new Xxh3Hasher(),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
        };

        public void Append(ulong gpa, ReadOnlySpan<byte> page)
        {
            Span<byte> address = stackalloc byte[8];
            BitConverter.TryWriteBytes(address, gpa);
            AppendData(address);
            if (!page.IsEmpty) AppendData(page);
        }

        protected abstract void AppendData(ReadOnlySpan<byte> data);

        public abstract ulong Finish();

        public virtual void Dispose() { }
    }

    private sealed class Sha256Hasher : PageHasher
    {
        private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        // Not inlined into Create: there the precompiled code loaded the cryptography assembly
        // (for HashAlgorithmName, a struct of its) at every recording's and replay's first page
        // hash, which is XXH3's.
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
        public static Sha256Hasher Create() => new();

        protected override void AppendData(ReadOnlySpan<byte> data) => _sha.AppendData(data);

        public override ulong Finish()
        {
            Span<byte> digest = stackalloc byte[32];
            _sha.GetHashAndReset(digest);
            return BitConverter.ToUInt64(digest);
        }

        public override void Dispose() => _sha.Dispose();
    }

    private sealed class Xxh3Hasher : PageHasher
    {
        private readonly XxHash3 _xxh = new();

        protected override void AppendData(ReadOnlySpan<byte> data) => _xxh.Append(data);

        public override ulong Finish() => _xxh.GetCurrentHashAsUInt64();
    }
}
