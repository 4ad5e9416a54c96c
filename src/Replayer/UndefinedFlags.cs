using VmReplay.Engine.Backend;
using VmReplay.Recorder.Events;

namespace VmReplay.Replayer;

/// <summary>
/// RFLAGS bits in which two processors running the same code differ without the guest's path
/// differing. AF: the SDM leaves it undefined after some instructions, and an AMD EPYC (Zen 5, the
/// PVM host of 2026-12-04) sets it after a shift where vmreplay's software CPU clears it. RF: KVM
/// reports it set where it stopped a guest between two iterations of a REP instruction (a forced
/// point) and after a triple fault, where the software CPU, at the same point, has it clear.
/// A KVM recording holds its host processor's flags; replayed on the software CPU, registers are
/// compared without these bits, and where only they differ the recorded AF is taken, as a
/// snapshot's recorded memory is taken where data alone differs (RF, which only says where the
/// stop was, is left as the software CPU has it).
/// </summary>
public static class UndefinedFlags
{
    private const ulong Af = 0x10, Rf = 0x10000;

    /// <summary>AF (undefined after logic instructions, shifts, multiplies, BT*, BSF/BSR) and RF.</summary>
    public const ulong Mask = Af | Rf;

    /// <summary>Whether <paramref name="expected"/> and <paramref name="actual"/> (RegisterFile order) differ in <see cref="Mask"/> and nowhere else.</summary>
    internal static bool OnlyDifference(ReadOnlySpan<ulong> expected, ReadOnlySpan<ulong> actual)
    {
        if (expected.Length != actual.Length || expected[RegisterFile.Rflags] == actual[RegisterFile.Rflags]) return false;
        for (int i = 0; i < expected.Length; i++)
        {
            ulong difference = expected[i] ^ actual[i];
            if (difference != 0 && (i != RegisterFile.Rflags || (difference & ~Mask) != 0)) return false;
        }
        return true;
    }

    /// <summary>Gives the vCPU the recorded AF.</summary>
    internal static void Adopt(IVcpuBackend vcpu, ulong recordedRflags)
    {
        var state = vcpu.CaptureState();
        state.Regs.Rflags = (state.Regs.Rflags & ~Af) | (recordedRflags & Af);
        vcpu.RestoreState(state);
    }
}
