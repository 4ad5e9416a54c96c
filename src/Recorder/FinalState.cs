using System.Security.Cryptography;
using VmReplay.Engine.Backend;
using VmReplay.Recorder.Events;

namespace VmReplay.Recorder;

/// <summary>Hashes of a stopped machine's registers and whole RAM, compared at the end of a replay.</summary>
public static class FinalState
{
    public static (ulong Registers, ulong Memory) Hash(IMachineBackend vm)
    {
        ulong regs = RegisterFile.Hash(vm.Vcpus[0].ReadRegisters());
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var r in vm.Memory.Regions)
            for (ulong at = 0; at < r.Size; at += 1 << 20)
                sha.AppendData(vm.Memory.GetSpan(r.GuestBase + at, (int)Math.Min(1UL << 20, r.Size - at)));
        Span<byte> digest = stackalloc byte[32];
        sha.GetHashAndReset(digest);
        return (regs, BitConverter.ToUInt64(digest));
    }

    /// <summary>
    /// Whether the register hash is <paramref name="expected"/> with RIP up to 15 bytes (one
    /// instruction) on: where a backend leaves RIP at an exit differs (traces/FORMAT.md).
    /// </summary>
    public static bool RegisterHashWithinOneInstruction(IMachineBackend vm, ulong expected)
    {
        var r = vm.Vcpus[0].ReadRegisters();
        ulong rip = r.Rip;
        for (ulong k = 0; k <= 15; k++)
        {
            r.Rip = rip + k;
            if (RegisterFile.Hash(r) == expected) return true;
        }
        return false;
    }
}
