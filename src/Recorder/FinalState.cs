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
}
