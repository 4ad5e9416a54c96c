using System.Security.Cryptography;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;
using VmReplay.Recorder.Events;
using VmReplay.Recorder.Format;

namespace VmReplay.Recorder;

/// <summary>Hashes of a stopped machine's registers and RAM, compared at the end of a replay.</summary>
public static class FinalState
{
    /// <summary>The end event's hashes as trace format <paramref name="formatVersion"/> defines them.</summary>
    public static (ulong Registers, ulong Memory) Hash(IMachineBackend vm, uint formatVersion) =>
        (RegisterFile.Hash(vm.Vcpus[0].ReadRegisters()), MemoryHash(vm.Memory, formatVersion, vm.DirtyLog));

    /// <summary>
    /// The end event's memory hash (traces/FORMAT.md, "End of run"): from version 4 the page-set
    /// hash of every non-zero page, which reads only the pages the guest populated (from version
    /// 5 with XXH3-64, in version 4 with SHA-256); before it the SHA-256 of all of RAM, which a
    /// replay of an older trace must still compute to match.
    /// </summary>
    /// <param name="memory">The RAM.</param>
    /// <param name="formatVersion">The trace format version whose hash is wanted.</param>
    /// <param name="log">The VM's dirty-page log, if it has one: it may know the non-zero pages without a scan (<see cref="DirtyLog.NonZeroPages"/>).</param>
    public static ulong MemoryHash(GuestMemory memory, uint formatVersion, DirtyLog? log = null) =>
        formatVersion >= TraceFormat.FirstVersionHashingNonZeroPages
            ? PageSetHash.Of(memory, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(log?.NonZeroPages() ?? memory.NonZeroPages()), TraceFormat.PageHashOf(formatVersion))
            : WholeRamHash(memory);

    private static ulong WholeRamHash(GuestMemory memory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in memory.Regions)
            for (ulong at = 0; at < r.Size; at += 1 << 20)
                sha.AppendData(memory.GetSpan(r.GuestBase + at, (int)Math.Min(1UL << 20, r.Size - at)));
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return BitConverter.ToUInt64(digest);
    }

    /// <summary>
    /// Whether the register hash is <paramref name="expected"/> with RIP up to 15 bytes (one
    /// instruction) on, and any of the RFLAGS bits in <paramref name="flags"/> flipped: where a
    /// backend leaves RIP at an exit differs (traces/FORMAT.md), and so do flags that say nothing
    /// of the guest's path (KVM ends a triple fault with RF set, the software CPU with it clear).
    /// </summary>
    public static bool RegisterHashWithinOneInstruction(IMachineBackend vm, ulong expected, ulong flags = 0)
    {
        var r = vm.Vcpus[0].ReadRegisters();
        ulong rip = r.Rip, rflags = r.Rflags;
        // Every subset of the flag bits (a few bits: a handful of subsets).
        for (ulong subset = flags; ; subset = (subset - 1) & flags)
        {
            r.Rflags = rflags ^ subset;
            for (ulong k = 0; k <= 15; k++)
            {
                r.Rip = rip + k;
                if (RegisterFile.Hash(r) == expected) return true;
            }
            if (subset == 0) return false;
        }
    }
}
